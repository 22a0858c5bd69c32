"""What changed between two versions of a tenant, in words for the reload log. Never values of
secrets: a changed password or client secret is reported as changed, nothing more."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from confidp.model import Application, Tenant, User


def _set_change(label: str, old: Iterable[str], new: Iterable[str]) -> list[str]:
    old_set, new_set = set(old), set(new)
    parts = [f"+{item}" for item in sorted(new_set - old_set)]
    parts += [f"-{item}" for item in sorted(old_set - new_set)]
    return [f"{label} {' '.join(parts)}"] if parts else []


def _changed_fields(old: Any, new: Any, skip: Iterable[str] = ()) -> list[str]:
    skipped = set(skip)
    return [f.name for f in fields(old)
            if f.name not in skipped and getattr(old, f.name) != getattr(new, f.name)]


def _keyed(label: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    out = []
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    if added:
        out.append(f"{label} added: {', '.join(added)}")
    if removed:
        out.append(f"{label} removed: {', '.join(removed)}")
    return out


def _application(old: Application, new: Application) -> list[str]:
    out = []
    for attribute, label in (("redirect_uris", "redirect URIs"),
                             ("post_logout_redirect_uris", "post-logout redirect URIs"),
                             ("scopes", "scopes"), ("grant_types", "grant types")):
        out += _set_change(f"{label} of {new.client_id}", getattr(old, attribute),
                           getattr(new, attribute))
    rest = _changed_fields(old, new, skip=("redirect_uris", "post_logout_redirect_uris",
                                           "scopes", "grant_types"))
    if rest:
        out.append(f"{new.client_id} changed: {', '.join(rest)}")
    return out


def _user(old: User, new: User) -> list[str]:
    changed = ["password" if name == "password_hash" else name
               for name in _changed_fields(old, new)]
    return [f"user {new.username} changed: {', '.join(changed)}"] if changed else []


def describe_change(old: Tenant, new: Tenant) -> str:
    out: list[str] = []
    if old.issuer != new.issuer:
        out.append(f"issuer {old.issuer} -> {new.issuer}")
    out += [f"{name} changed" for name in _changed_fields(
        old, new, skip=("issuer", "issuer_host", "issuer_path", "secure", "applications",
                        "scopes", "users", "users_by_subject", "source"))]
    out += _keyed("applications", old.applications, new.applications)
    for client_id in sorted(set(old.applications) & set(new.applications)):
        out += _application(old.applications[client_id], new.applications[client_id])
    out += _keyed("scopes", old.scopes, new.scopes)
    changed_scopes = sorted(name for name in set(old.scopes) & set(new.scopes)
                            if old.scopes[name] != new.scopes[name])
    if changed_scopes:
        out.append(f"scopes changed: {', '.join(changed_scopes)}")
    out += _keyed("users", {u.username: u for u in old.users.values()},
                  {u.username: u for u in new.users.values()})
    for key in sorted(set(old.users) & set(new.users)):
        out += _user(old.users[key], new.users[key])
    return "; ".join(out) if out else "no effective change (formatting or comments)"
