"""Frozen data the rest of confidp reads: built once per tenant file version, never mutated."""

from confidp.model.connector import Connector, SecretRef
from confidp.model.secret import Secret
from confidp.model.tenant import (
    Application,
    ClientSecret,
    FactorRule,
    Languages,
    Lifetimes,
    Links,
    LoginThrottle,
    Scope,
    SecondFactors,
    Tenant,
    Theme,
    User,
)

__all__ = [
    "Application",
    "ClientSecret",
    "Connector",
    "FactorRule",
    "Languages",
    "Lifetimes",
    "Links",
    "LoginThrottle",
    "Scope",
    "SecondFactors",
    "Secret",
    "SecretRef",
    "Tenant",
    "Theme",
    "User",
]
