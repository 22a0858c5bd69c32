"""Tenant files -> immutable model: YAML with positions, JSON Schema, rules, build. No HTTP."""
