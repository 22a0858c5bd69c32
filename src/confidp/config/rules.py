"""Rules a tenant file must follow that JSON Schema cannot express (DESIGN.md, "Tenants and
routing"). Each rule is one function over a schema-valid document; ``check_document`` runs them
all and collects every problem. The cross-file rule (one issuer per tenant) lives in
``confidp.config.loader`` because it needs the other files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from confidp.config.durations import seconds
from confidp.config.errors import Problem
from confidp.config.factor_rules import FACTOR_RULES
from confidp.config.page_rules import PAGE_RULES
from confidp.config.schema import defaults, defaults_of
from confidp.oauth.grant_types import GRANT_TYPES
from confidp.oauth.scopes import RESERVED_CLAIMS, STANDARD_SCOPES

TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# RFC 8252 §7.3: loopback redirects use the IP literal; "localhost" is NOT RECOMMENDED (§8.3)
# but not forbidden: it is what a single-page application's development server uses, so it is
# accepted with a warning.
LOOPBACK_REDIRECT_HOSTS = frozenset({"127.0.0.1", "::1"})
LOCALHOST = "localhost"
_DANGEROUS_SCHEMES = frozenset({"javascript", "data", "file", "vbscript", "blob", "about"})
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
# RFC 3986 unreserved characters: the issuer path is also the cookies' Path attribute
_ISSUER_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)*")
MAX_AUTHORIZATION_CODE_LIFETIME = 600  # RFC 6749 §4.1.2: "maximum ... of 10 minutes"
# a retry comes within seconds; a longer window only weakens reuse detection (Okta and Amazon
# Cognito allow at most 60 s)
MAX_REFRESH_TOKEN_REUSE_INTERVAL = 60


@dataclass(frozen=True, slots=True)
class RuleContext:
    tenant_id: str
    themes: frozenset[str] | None  # None: do not check that the theme exists


Rule = Callable[[Mapping[str, Any], RuleContext], Iterator[Problem]]


def check_document(document: Mapping[str, Any], context: RuleContext) -> list[Problem]:
    # the connectors' rules use this module's URL rules, so they are imported here
    from confidp.config.connector_rules import check_connectors
    from confidp.config.ldap_rules import check_ldap_connectors

    problems: list[Problem] = []
    for rule in (*RULES, check_connectors, check_ldap_connectors):
        problems.extend(rule(document, context))
    return problems


def tenant_id_problem(tenant_id: str) -> str | None:
    if TENANT_ID.match(tenant_id):
        return None
    return (f"the file name gives the tenant id {tenant_id!r}: rename the file to lower-case "
            "letters, digits, '-' and '_' (at most 63), starting with a letter or digit")


def check_tenant_id(document: Mapping[str, Any], context: RuleContext) -> Iterator[Problem]:
    problem = tenant_id_problem(context.tenant_id)
    if problem:
        yield Problem((), problem)


def issuer_problem(issuer: str) -> str | None:
    """OpenID Connect Discovery 1.0 §3 and RFC 8414 §2: https, no query or fragment."""
    if _CONTROL_OR_SPACE.search(issuer):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(issuer)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an absolute https URL, e.g. https://id.example.com"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        return "must use https (http is allowed only for localhost, 127.0.0.1 and [::1])"
    if "?" in issuer or "#" in issuer:
        return "must not have a query or a fragment"
    if "@" in parts.netloc:
        return "must not contain user information"
    if parts.netloc != parts.netloc.lower():
        return "the host must be lower-case"
    if port == 0:
        return "the port must be between 1 and 65535"
    if parts.path.endswith("/"):
        return "must not end with '/' (write https://id.example.com or .../acme)"
    segments = parts.path.split("/")[1:]
    if any(segment in ("", ".", "..") for segment in segments):
        return "the path must not have empty, '.' or '..' segments"
    if not _ISSUER_PATH.fullmatch(parts.path):
        return ("the path may use only letters, digits, '-', '.', '_' and '~' between its "
                "'/'s")
    return None


def check_issuer(document: Mapping[str, Any], context: RuleContext) -> Iterator[Problem]:
    problem = issuer_problem(document["issuer"])
    if problem:
        yield Problem(("issuer",), f"{document['issuer']!r} {problem}")


def redirect_uri_problem(uri: str) -> str | None:
    """RFC 6749 §3.1.2 (absolute, no fragment), RFC 9700 §2.1 (exact match, so no wildcards),
    RFC 8252 §7 (native apps: loopback IP over http, or a private-use scheme)."""
    if _CONTROL_OR_SPACE.search(uri):
        return "must not contain spaces or control characters"
    if "#" in uri:
        return "must not have a fragment (RFC 6749 §3.1.2)"
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URI ({exc})"
    scheme = parts.scheme.lower()
    if not scheme:
        return "must be an absolute URI with a scheme, e.g. https://app.example.com/callback"
    if "*" in uri:
        return "wildcards are not supported: URIs match by exact string, so list each one"
    if scheme in ("http", "https"):
        if not parts.hostname:
            return "must name a host"
        if "@" in parts.netloc:
            return "must not contain user information"
        if port == 0:
            return "the port must be between 1 and 65535"
        if scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            return ("must use https (http is allowed only for 127.0.0.1, [::1] and, with a "
                    "warning, localhost)")
        return None
    if scheme in _DANGEROUS_SCHEMES:
        return f"the scheme {scheme!r} is not allowed"
    if "." not in scheme:
        return ("a private-use scheme must be a reverse domain name with a dot in it, "
                "e.g. com.example.app:/callback (RFC 8252 §7.1)")
    return None


def redirect_uri_warning(uri: str) -> str | None:
    """RFC 8252 §8.3: "NOT RECOMMENDED" to use localhost, as the name may resolve elsewhere
    and another program may listen on it; only called on URIs without a problem."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != "http" or parts.hostname != LOCALHOST:
        return None
    loopback = parts.netloc.lower().replace(LOCALHOST, "127.0.0.1", 1)
    suggestion = uri.replace(parts.netloc, loopback, 1)
    return (f"{uri!r} uses the name localhost, which RFC 8252 §8.3 advises against (it may "
            "resolve to another address, and another program may listen on that port): fine "
            f"for a development server; elsewhere use {suggestion!r}")


def check_lifetimes(document: Mapping[str, Any], context: RuleContext) -> Iterator[Problem]:
    given = document.get("lifetimes", {})
    lifetimes = {**defaults("lifetimes"), **given}
    code = lifetimes["authorization_code"]
    if seconds(code) > MAX_AUTHORIZATION_CODE_LIFETIME:
        yield Problem(("lifetimes", "authorization_code"),
                      f"{code} is longer than the 10m RFC 6749 §4.1.2 allows; use 1m")
    reuse = lifetimes["refresh_token_reuse_interval"]
    if seconds(reuse) > MAX_REFRESH_TOKEN_REUSE_INTERVAL:
        yield Problem(("lifetimes", "refresh_token_reuse_interval"),
                      f"{reuse} is longer than the 1m allowed: a retry comes within seconds, "
                      "and a longer window weakens reuse detection; use 30s (or 0s for none)")
    for idle, absolute in (("session_idle", "session_absolute"),
                           ("refresh_token_idle", "refresh_token_absolute")):
        if seconds(lifetimes[idle]) > seconds(lifetimes[absolute]):
            culprit = idle if idle in given else absolute
            default_note = "" if absolute in given else ", the default"
            yield Problem(("lifetimes", culprit), f"{idle} ({lifetimes[idle]}) is longer than "
                          f"{absolute} ({lifetimes[absolute]}{default_note}); make it shorter "
                          "or equal")


def check_applications(document: Mapping[str, Any], context: RuleContext) -> Iterator[Problem]:
    defined_scopes = set(STANDARD_SCOPES) | {s["name"] for s in document.get("scopes", [])}
    first_at: dict[str, int] = {}
    for index, app in enumerate(document.get("applications", [])):
        here = ("applications", index)
        client_id = app["client_id"]
        if client_id in first_at:
            yield Problem((*here, "client_id"), f"client_id {client_id!r} is already used by "
                          f"applications[{first_at[client_id]}]")
        else:
            first_at[client_id] = index
        yield from _check_client_type(app, here)
        yield from _check_grants(app, here)
        for key in ("redirect_uris", "post_logout_redirect_uris"):
            for position, uri in enumerate(app.get(key, [])):
                problem = redirect_uri_problem(uri)
                if problem:
                    yield Problem((*here, key, position), f"{uri!r} {problem}")
                elif warning := redirect_uri_warning(uri):
                    yield Problem((*here, key, position), warning, warning=True)
        for position, scope in enumerate(app["scopes"]):
            if scope not in defined_scopes:
                yield Problem((*here, "scopes", position), f"scope {scope!r} is not defined: "
                              "add it under the tenant's scopes, or use a standard scope ("
                              f"{', '.join(STANDARD_SCOPES)})")


def _check_client_type(app: Mapping[str, Any], here: tuple[str, int]) -> Iterator[Problem]:
    method = app.get("token_endpoint_auth_method")
    if app["type"] == "public":
        if "client_secret" in app:
            yield Problem((*here, "client_secret"), "a public application cannot keep a "
                          "secret: remove client_secret or make the application confidential",
                          at_key=True)
        if method not in (None, "none"):
            yield Problem((*here, "token_endpoint_auth_method"),
                          "a public application authenticates with 'none'")
        if app.get("require_pkce") is False:
            yield Problem((*here, "require_pkce"), "a public application must use PKCE: it "
                          "has no secret, so PKCE is what ties its code to it (RFC 9700 "
                          "§2.1.1); remove require_pkce: false, or make the application "
                          "confidential")
    else:
        if "client_secret" not in app:
            yield Problem(here, "a confidential application needs a client_secret (hash, env "
                          "or file)")
        if method == "none":
            yield Problem((*here, "token_endpoint_auth_method"), "a confidential application "
                          "must authenticate: use client_secret_basic or client_secret_post")


def _check_grants(app: Mapping[str, Any], here: tuple[str, int]) -> Iterator[Problem]:
    """What each grant type asks of the applications that list it (confidp.oauth.grant_types)."""
    listed = set(app.get("grant_types", defaults_of("application")["grant_types"]))
    grants = [grant for grant in GRANT_TYPES.values() if grant.name in listed]
    scopes = set(app["scopes"])
    for grant in grants:
        if grant.confidential_only and app["type"] == "public":
            yield Problem((*here, "grant_types"), f"{grant.name} is only for confidential "
                          "applications")
    for grant in grants:
        if grant.needs_scope is not None and grant.needs_scope not in scopes:
            yield Problem((*here, "grant_types"), f"the {grant.name} grant needs the "
                          f"{grant.needs_scope} scope in scopes")
    for grant in GRANT_TYPES.values():
        if grant.needs_scope in scopes and grant.name not in listed:
            yield Problem((*here, "scopes"), f"{grant.needs_scope} needs the {grant.name} "
                          "grant in grant_types")
    for grant in grants:
        if grant.needs_redirect_uris and not app.get("redirect_uris"):
            yield Problem(here, f"the {grant.name} grant needs at least one redirect_uri")


def check_scopes(document: Mapping[str, Any], context: RuleContext) -> Iterator[Problem]:
    first_at: dict[str, int] = {}
    for index, scope in enumerate(document.get("scopes", [])):
        name = scope["name"]
        if name in STANDARD_SCOPES:
            yield Problem(("scopes", index, "name"), f"{name!r} is a standard scope and is "
                          "always defined; choose another name")
        elif name in first_at:
            yield Problem(("scopes", index, "name"), f"scope {name!r} is already defined at "
                          f"scopes[{first_at[name]}]")
        else:
            first_at[name] = index
        for position, claim in enumerate(scope.get("claims", [])):
            if claim in RESERVED_CLAIMS:
                yield Problem(("scopes", index, "claims", position), f"{claim!r} is set by "
                              "confidp itself and cannot be released by a custom scope")


def check_users(document: Mapping[str, Any], context: RuleContext) -> Iterator[Problem]:
    usernames: dict[str, int] = {}
    subjects: dict[str, int] = {}
    for index, user in enumerate(document.get("users", [])):
        folded = user["username"].casefold()
        if folded in usernames:
            yield Problem(("users", index, "username"), f"username {user['username']!r} is "
                          f"already used by users[{usernames[folded]}] (usernames ignore case)")
        else:
            usernames[folded] = index
        subject = user.get("subject", user["username"])
        if subject in subjects:
            yield Problem(("users", index), f"subject {subject!r} is already the subject of "
                          f"users[{subjects[subject]}]; give each user its own", at_key=True)
        else:
            subjects[subject] = index
        for claim in user.get("claims", {}):
            if claim in RESERVED_CLAIMS:
                yield Problem(("users", index, "claims", claim), f"{claim!r} is set by confidp "
                              "itself (or by a user field of that name); remove it from claims",
                              at_key=True)
        yield from _check_standard_claims(user, ("users", index))


def birthdate_problem(value: str) -> str | None:
    """OpenID Connect Core §5.1: YYYY-MM-DD, YYYY, or 0000-MM-DD (year omitted). The schema
    checked the shape; this checks the day exists."""
    if len(value) == 4:
        return None
    year, month, day = (int(part) for part in value.split("-"))
    try:
        date(year or 2000, month, day)  # 2000: a leap year, so 0000-02-29 is a birthday
    except ValueError:
        return f"{value!r} is not a date: write YYYY-MM-DD, YYYY, or 0000-MM-DD"
    return None


def updated_at_seconds(value: int | str) -> int | None:
    """updated_at as the tenant file gives it -> seconds since 1970 (OpenID Connect Core
    §5.1); None when it is not a time with a time zone from 1970 on."""
    if isinstance(value, int):
        return value
    try:
        moment = datetime.fromisoformat(value.upper())
    except ValueError:
        return None
    if moment.tzinfo is None or moment.timestamp() < 0:
        return None
    return int(moment.timestamp())


@cache
def _time_zone_database() -> bool:
    """Whether this machine has the IANA time zone database (without it, zoneinfo names are
    checked by their shape only)."""
    try:
        ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zoneinfo_problem(value: str) -> str | None:
    if not _time_zone_database():
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return (f"{value!r} is not a time zone of the IANA database; write a name such as "
                "Europe/Paris or America/New_York")
    return None


def _check_standard_claims(user: Mapping[str, Any],
                           here: tuple[str, int]) -> Iterator[Problem]:
    """What the schema cannot say about the OpenID Connect Core §5.1 claims of a user."""
    if "birthdate" in user:
        problem = birthdate_problem(user["birthdate"])
        if problem:
            yield Problem((*here, "birthdate"), problem)
    if "zoneinfo" in user:
        problem = zoneinfo_problem(user["zoneinfo"])
        if problem:
            yield Problem((*here, "zoneinfo"), problem)
    if "updated_at" in user and updated_at_seconds(user["updated_at"]) is None:
        yield Problem((*here, "updated_at"), f"{user['updated_at']!r} is not a time from 1970 "
                      "on: write seconds since 1970, or an RFC 3339 time with a time zone such "
                      "as 2025-01-01T09:30:00Z")


def check_theme(document: Mapping[str, Any], context: RuleContext) -> Iterator[Problem]:
    if context.themes is None:
        return
    name = document.get("theme", {}).get("name", "default")
    if name not in context.themes:
        known = ", ".join(sorted(context.themes)) or "none"
        yield Problem(("theme", "name") if "theme" in document else (),
                      f"theme {name!r} does not exist in the themes directory (themes: {known})")


RULES: tuple[Rule, ...] = (
    check_tenant_id,
    check_issuer,
    check_lifetimes,
    check_scopes,
    check_applications,
    check_users,
    check_theme,
    *PAGE_RULES,
    *FACTOR_RULES,
)
