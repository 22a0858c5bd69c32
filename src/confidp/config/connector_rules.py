"""Rules for ``connectors`` the schema cannot express: unique ids (``local`` is taken),
applications naming connectors that exist, upstream URLs that are https (http only on this
machine, and only when the connector says ``allow_http``), parameters confidp sets itself not
overridden, and no local user whose subject could be a federated one (``{connector id}:``
starts every federated subject: ``confidp.identity.subjects``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from confidp.config.errors import Problem
from confidp.config.rules import LOCALHOST, LOOPBACK_HOSTS, RuleContext, issuer_problem
from confidp.identity.identity import LOCAL

# the upstream URL keys of each connector type (h-ldap's ldap type has its own URL rules)
URL_KEYS: Mapping[str, tuple[str, ...]] = {
    "oidc": ("issuer",),
    "oauth2": ("authorization_endpoint", "token_endpoint", "userinfo_endpoint"),
    "github": ("host", "api_url"),
}
# the authorization request parameters confidp sets itself (RFC 6749 §4.1.1, RFC 7636 §4.3,
# OpenID Connect Core §3.1.2.1)
RESERVED_PARAMS = frozenset({"client_id", "redirect_uri", "response_type", "scope", "state",
                             "nonce", "code_challenge", "code_challenge_method",
                             "response_mode", "request", "request_uri"})


def upstream_url_problem(url: str, allow_http: bool) -> str | None:
    """An upstream URL confidp calls or sends people to: absolute https, or http on this
    machine when ``allow_http``; no fragment, no user information."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an absolute https URL"
    if parts.scheme == "http":
        if parts.hostname not in LOOPBACK_HOSTS:
            return "must use https (http only for 127.0.0.1, [::1] or localhost, with " \
                   "allow_http: true)"
        if not allow_http:
            return "uses http: set allow_http: true on this connector for an upstream on " \
                   "this machine (development and tests), or use https"
    if "#" in url:
        return "must not have a fragment"
    if "@" in parts.netloc:
        return "must not contain user information"
    return None


def check_connectors(document: Mapping[str, Any], context: RuleContext) -> Iterator[Problem]:
    ids: dict[str, int] = {}
    for index, connector in enumerate(document.get("connectors", [])):
        here = ("connectors", index)
        connector_id = connector["id"]
        if connector_id == LOCAL:
            yield Problem((*here, "id"), "'local' is the tenant file's own users: give the "
                          "connector another id")
        elif connector_id in ids:
            yield Problem((*here, "id"), f"{connector_id!r} is already the id of "
                          f"connectors[{ids[connector_id]}]; give each connector its own")
        else:
            ids[connector_id] = index
        allow_http = bool(connector.get("allow_http", False))
        for key in URL_KEYS.get(connector["type"], ()):
            url = connector.get(key)
            if url is None:
                continue
            problem = upstream_url_problem(url, allow_http)
            if problem is None and key == "issuer":
                problem = issuer_problem(url) if url.startswith("https://") else None
            if problem:
                yield Problem((*here, key), f"{url!r} {problem}")
            elif urlsplit(url).hostname == LOCALHOST:
                yield Problem((*here, key), f"{url!r} uses the name localhost, which may "
                              "resolve to another address: fine for development; elsewhere "
                              "use 127.0.0.1", warning=True)
        for name in connector.get("authorize_params", {}):
            if name in RESERVED_PARAMS:
                yield Problem((*here, "authorize_params", name), f"{name!r} is set by confidp "
                              "itself; remove it", at_key=True)
        if connector["type"] == "oidc" and connector.get("token_endpoint_auth_method", "") in (
                "client_secret_basic", "client_secret_post") and "client_secret" not in connector:
            yield Problem(here, f"token_endpoint_auth_method "
                          f"{connector['token_endpoint_auth_method']} needs a client_secret",
                          at_key=True)
    for index, app in enumerate(document.get("applications", [])):
        for position, name in enumerate(app.get("connectors", [])):
            if name != LOCAL and name not in ids:
                known = ", ".join([LOCAL, *ids])
                yield Problem(("applications", index, "connectors", position),
                              f"{name!r} is not a connector of this tenant (known: {known})")
    for index, user in enumerate(document.get("users", [])):
        subject = user.get("subject", user["username"])
        prefix = subject.split(":", 1)[0] if ":" in subject else None
        if prefix in ids:
            yield Problem(("users", index, "subject"), f"subject {subject!r} starts with "
                          f"'{prefix}:', as the subjects of people signed in through the "
                          f"connector {prefix!r} do: give the user another subject")
