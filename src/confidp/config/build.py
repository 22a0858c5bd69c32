"""A validated tenant document -> the frozen ``Tenant`` model, defaults applied.

Only called on documents that passed the schema and the rules, so it can index freely.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path as FsPath
from types import MappingProxyType
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from confidp.config.durations import seconds
from confidp.config.errors import Problem
from confidp.config.page_rules import APPLICATION_PAGE_LINKS
from confidp.config.reading import MAX_SECRET_BYTES, UnreadableFile, read_regular_file
from confidp.config.rules import updated_at_seconds
from confidp.config.schema import defaults, defaults_of
from confidp.model import (
    Application,
    ClientSecret,
    Connector,
    FactorRule,
    Languages,
    Lifetimes,
    Links,
    LoginThrottle,
    Scope,
    SecondFactors,
    Secret,
    SecretRef,
    Tenant,
    Theme,
    User,
)
from confidp.model.tenant import DEFAULT_SIGNING_ALG, JWT_FORMAT
from confidp.oauth.scopes import STANDARD_SCOPES

_DEFAULT_PORTS = {"http": 80, "https": 443}
_EMPTY: Mapping[str, Any] = MappingProxyType({})
# user fields copied as they are (OpenID Connect Core §5.1 claims of the profile scope)
STRING_PROFILE_FIELDS = ("middle_name", "nickname", "preferred_username", "profile", "picture",
                         "website", "gender", "birthdate", "zoneinfo", "locale")


def issuer_route(issuer: str) -> tuple[str, str]:
    """The (host, path prefix) requests are routed by: host lower-case with the scheme's default
    port dropped, path without trailing slash."""
    parts = urlsplit(issuer)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host, parts.path.rstrip("/")


def resolve_client_secrets(document: Mapping[str, Any], base_dir: FsPath,
                           environ: Mapping[str, str] | None
                           ) -> tuple[dict[int, ClientSecret], list[Problem]]:
    """Read each confidential application's secret from where the file says it is. With
    ``environ`` None (``confidp check`` without --resolve-secrets, in a CI that has no secrets)
    env and file secrets are recorded by reference and not read."""
    secrets: dict[int, ClientSecret] = {}
    problems: list[Problem] = []
    for index, app in enumerate(document.get("applications", [])):
        spec = app.get("client_secret")
        if not spec:
            continue
        here = ("applications", index, "client_secret")
        if "hash" in spec:
            secrets[index] = ClientSecret("hash", Secret(spec["hash"]), "hash")
        elif environ is None:
            kind: Literal["env", "file"] = "env" if "env" in spec else "file"
            where = spec[kind]
            secrets[index] = ClientSecret(kind, Secret(""), f"{kind} {where} (not read)")
        elif "env" in spec:
            value = environ.get(spec["env"])
            if not value:
                problems.append(Problem((*here, "env"), f"the environment variable "
                                        f"{spec['env']} is not set or empty"))
                continue
            secrets[index] = ClientSecret("env", Secret(value), f"env {spec['env']}")
        else:
            # Messages name the file as the tenant file does: never the server's absolute
            # path of a relative name, never a byte of what the file holds.
            named = spec["file"]
            try:
                value = read_regular_file(base_dir / named, MAX_SECRET_BYTES).decode(
                    "utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                problems.append(Problem((*here, "file"), f"{named} is not UTF-8 text"))
                continue
            except UnreadableFile as exc:
                problems.append(Problem((*here, "file"), f"{named} {exc.message}"))
                continue
            if not value:
                problems.append(Problem((*here, "file"), f"{named} is empty"))
                continue
            secrets[index] = ClientSecret("file", Secret(value), f"file {named}")
    return secrets, problems


_SHARED: dict[Any, Any] = {}
MAX_SHARED = 10_000  # distinct values kept for sharing; past it, new values are not shared
_T = TypeVar("_T")


def shared(value: _T) -> _T:
    """One object for equal immutable parts of tenants (an application's scopes and grant
    types, lifetimes, ...): 10 000 tenants hold a few hundred of them instead of a copy each.
    Bounded, so that a stream of edits cannot grow it without end."""
    found = _SHARED.get(value)
    if found is not None:
        return found  # type: ignore[no-any-return]
    if len(_SHARED) < MAX_SHARED:
        _SHARED[value] = value
    return value


# immutable: every tenant's map starts with these same objects
_STANDARD_SCOPE_MODELS = {name: Scope(name, description, claims, standard=True)
                          for name, (description, claims) in STANDARD_SCOPES.items()}
def build_connectors(document: Mapping[str, Any],
                     secrets: Mapping[int, Mapping[str, SecretRef]],
                     base_dir: FsPath) -> tuple[Connector, ...]:
    """Each connector with its type's defaults (``$defs/connector_<type>``) and its secrets."""
    connectors = []
    for index, given in enumerate(document.get("connectors", [])):
        spec = {**defaults_of(f"connector_{given['type']}"), **given}
        for key in secrets.get(index, {}):
            spec.pop(key, None)  # the reference; the value is in ``secrets``
        connectors.append(Connector(
            id=spec["id"], type=spec["type"], name=spec.get("name", spec["id"]),
            settings=MappingProxyType(spec),
            secrets=MappingProxyType(dict(secrets.get(index, {}))), base_dir=str(base_dir)))
    return tuple(connectors)


def build_tenant(tenant_id: str, source: str, given: Mapping[str, Any],
                 secrets: Mapping[int, ClientSecret],
                 connectors: tuple[Connector, ...] = ()) -> Tenant:
    """The defaults are the schema's (``default`` beside each key): written nowhere else."""
    document = {**defaults(), **given}
    issuer = document["issuer"]
    host, path = issuer_route(issuer)
    theme = {**defaults("theme"), **document.get("theme", {})}
    lifetimes = {**defaults("lifetimes"), **document.get("lifetimes", {})}
    throttle = {**defaults("login_throttle"), **document.get("login_throttle", {})}
    application_defaults, user_defaults = defaults_of("application"), defaults_of("user")
    scope_defaults = defaults_of("scope")
    scopes = dict(_STANDARD_SCOPE_MODELS)
    for scope_spec in document["scopes"]:
        spec = {**scope_defaults, **scope_spec}
        scopes[spec["name"]] = Scope(spec["name"], spec["description"], tuple(spec["claims"]),
                                     localized_descriptions=MappingProxyType(
                                         dict(spec.get("localized_description", {}))))
    applications = {}
    for index, app_spec in enumerate(document["applications"]):
        spec = {**application_defaults, **app_spec}
        public = spec["type"] == "public"
        applications[spec["client_id"]] = Application(
            client_id=spec["client_id"],
            name=spec["name"],
            type=spec["type"],
            # the schema documents this default, which depends on the type
            token_endpoint_auth_method=spec.get(
                "token_endpoint_auth_method", "none" if public else "client_secret_basic"),
            redirect_uris=frozenset(spec["redirect_uris"]),
            post_logout_redirect_uris=shared(frozenset(spec["post_logout_redirect_uris"])),
            scopes=shared(frozenset(spec["scopes"])),
            grant_types=shared(frozenset(spec["grant_types"])),
            require_consent=spec["require_consent"],
            id_token_signed_response_alg=spec["id_token_signed_response_alg"],
            access_token_format=spec["access_token_format"],
            access_token_signing_alg=spec["access_token_signing_alg"],
            client_secret=secrets.get(index),
            require_pkce=public or spec["require_pkce"],
            **{key: spec.get(key) for key in APPLICATION_PAGE_LINKS},
            second_factor=factor_rule(spec["second_factor"]) if "second_factor" in spec
            else None,
            connectors=tuple(spec["connectors"]) if "connectors" in spec else None,
        )
    users = {}
    for user_spec in document["users"]:
        spec = {**user_defaults, **user_spec}
        users[spec["username"].casefold()] = User(
            username=spec["username"],
            password_hash=Secret(spec["password_hash"]),
            subject=spec.get("subject", spec["username"]),
            email=spec.get("email"),
            email_verified=spec["email_verified"],
            name=spec.get("name"),
            given_name=spec.get("given_name"),
            family_name=spec.get("family_name"),
            groups=shared(tuple(spec["groups"])),
            claims=MappingProxyType(dict(spec["claims"])) if spec["claims"] else _EMPTY,
            disabled=spec["disabled"],
            **{name: spec.get(name) for name in STRING_PROFILE_FIELDS},
            updated_at=updated_at_seconds(spec["updated_at"]) if "updated_at" in spec else None,
            phone_number=spec.get("phone_number"),
            phone_number_verified=spec["phone_number_verified"],
            address=MappingProxyType(dict(spec["address"])) if "address" in spec else None,
        )
    return Tenant(
        id=tenant_id,
        source=source,
        issuer=issuer,
        issuer_host=host,
        issuer_path=path,
        display_name=document["display_name"],
        theme=Theme(
            name=theme["name"],
            title=theme.get("title", document["display_name"]),  # documented: the display name
            logo_url=theme.get("logo_url"),
            colors=MappingProxyType({name: value for name, value in
                                     theme.get("colors", {}).items() if name != "dark"}),
            dark_colors=MappingProxyType(dict(theme.get("colors", {}).get("dark", {}))),
            favicon_url=theme.get("favicon_url"),
        ),
        lifetimes=shared(Lifetimes(**{key: seconds(value)
                                      for key, value in lifetimes.items()})),
        login_throttle=shared(LoginThrottle(
            max_failures_per_user=throttle["max_failures_per_user"],
            max_failures_per_ip=throttle["max_failures_per_ip"],
            window=seconds(throttle["window"]),
        )),
        applications=MappingProxyType(applications),
        scopes=MappingProxyType(scopes),
        users=MappingProxyType(users),
        secure=issuer.startswith("https://"),
        users_by_subject=MappingProxyType({u.subject: u for u in users.values()}),
        signing_algorithms=shared(frozenset(
            {app.id_token_signed_response_alg for app in applications.values()}
            | {app.access_token_signing_alg for app in applications.values()
               if app.access_token_format == JWT_FORMAT} | {DEFAULT_SIGNING_ALG})),
        **page_settings(document),
        second_factors=second_factors(document),
        connectors=connectors,
    )


def factor_rule(spec: Mapping[str, Any]) -> FactorRule:
    """An application's or a group's ``factor_rule``."""
    rule = {**defaults_of("factor_rule"), **spec}
    methods = rule.get("methods")
    return FactorRule(required=rule["required"],
                      methods=frozenset(methods) if methods is not None else None,
                      passwordless=rule.get("passwordless"))


def second_factors(document: Mapping[str, Any]) -> SecondFactors:
    """The tenant's ``second_factors`` (confidp.mfa.policy)."""
    spec = {**defaults("second_factors"), **document.get("second_factors", {})}
    return SecondFactors(
        methods=frozenset(spec["methods"]), required=spec["required"],
        passwordless=spec["passwordless"], user_verification=spec["user_verification"],
        recent_authentication=seconds(spec["recent_authentication"]),
        groups=MappingProxyType({name: factor_rule(rule)
                                 for name, rule in spec["groups"].items()}))


def page_settings(document: Mapping[str, Any]) -> dict[str, Any]:
    """The tenant's languages, message overrides and links (confidp.web.locale,
    confidp.i18n)."""
    languages = {**defaults("languages"), **document.get("languages", {})}
    messages = {
        language: MappingProxyType({key: tuple(value) if isinstance(value, list) else value
                                    for key, value in overrides.items()})
        for language, overrides in document.get("messages", {}).items()}
    links = document.get("links", {})
    return {
        "languages": shared(Languages(tuple(languages["supported"]), languages["default"])),
        "messages": MappingProxyType(messages),
        "links": Links(account_recovery=links.get("account_recovery"), help=links.get("help")),
    }
