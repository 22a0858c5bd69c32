"""Rules for ``ldap`` connectors that the schema cannot express (RFC 4513, RFC 4515):

- passwords never cross a network unencrypted: ``ldaps://`` or ``start_tls``; plain
  ``ldap://`` only to this machine (127.0.0.1, [::1], localhost) and only with
  ``allow_plaintext: true``; StartTLS is for ``ldap://`` (``ldaps://`` is TLS already);
- a port in range;
- the user and group filters are LDAP filters (RFC 4515) that ldap3 can send, so a bad one
  is found when the file loads, not at someone's sign-in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from confidp.config.errors import Problem
from confidp.config.rules import LOCALHOST, LOOPBACK_HOSTS, RuleContext
from confidp.identity.ldap_directory import filter_problem
from confidp.identity.ldap_settings import parse_url

LDAP = "ldap"


def check_ldap_connectors(document: Mapping[str, Any],
                          context: RuleContext) -> Iterator[Problem]:
    for index, connector in enumerate(document.get("connectors", [])):
        if connector.get("type") != LDAP:
            continue
        here = ("connectors", index)
        yield from _url_problems(connector, here)
        for part in ("user_search", "group_search"):
            search = connector.get(part)
            if isinstance(search, Mapping) and "filter" in search:
                problem = filter_problem(search["filter"])
                if problem:
                    yield Problem((*here, part, "filter"), f"{search['filter']!r} is not an "
                                  f"LDAP filter: {problem}")


def _url_problems(connector: Mapping[str, Any],
                  here: tuple[str, int]) -> Iterator[Problem]:
    url = connector["url"]
    try:
        host, _port, use_ssl = parse_url(url)
    except ValueError as exc:
        yield Problem((*here, "url"), f"{url!r} is not a valid ldap:// or ldaps:// URL "
                      f"({exc})")
        return
    start_tls = bool(connector.get("start_tls", False))
    if use_ssl and start_tls:
        yield Problem((*here, "start_tls"), "StartTLS upgrades an ldap:// connection; an "
                      "ldaps:// one is encrypted from the start: remove start_tls or use "
                      "ldap://")
    if use_ssl or start_tls:
        return
    if host.lower() not in LOOPBACK_HOSTS:
        yield Problem((*here, "url"), f"{url!r} would send passwords unencrypted: use "
                      "ldaps://, or ldap:// with start_tls: true")
    elif not connector.get("allow_plaintext", False):
        yield Problem((*here, "url"), f"{url!r} would send passwords unencrypted: set "
                      "allow_plaintext: true for a directory on this machine (development "
                      "and tests), or use ldaps:// or start_tls: true")
    elif host.lower() == LOCALHOST:
        yield Problem((*here, "url"), f"{url!r} uses the name localhost, which may resolve "
                      "to another address: fine for development; elsewhere use 127.0.0.1",
                      warning=True)
