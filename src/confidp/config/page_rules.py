"""Rules for what a tenant file puts on its pages (languages, message overrides, links),
beyond what the schema can say. Each is one function over a schema-valid document, run by
``confidp.config.rules.check_document`` with the others."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from confidp.config.errors import Problem
from confidp.config.schema import defaults
from confidp.i18n.overrides import override_problems, unknown_message

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# application keys shown on pages (OpenID Connect Dynamic Client Registration 1.0 §2)
APPLICATION_PAGE_LINKS = ("client_uri", "initiate_login_uri", "logo_uri", "policy_uri",
                          "tos_uri")



def page_link_problem(link: str) -> str | None:
    """A link or image on a page: https (http only for loopback), or a path on this server.
    The schema's pattern already refused other schemes, spaces, quotes and angle brackets."""
    if link.startswith("/"):
        if link.startswith(("//", "/\\")):
            return "a path on this server starts with a single '/' ('//' names another host)"
        return None
    try:
        parts = urlsplit(link)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if not parts.hostname:
        return "must name a host, e.g. https://app.example.com/"
    if "@" in parts.netloc:
        return "must not contain user information"
    if port == 0:
        return "the port must be between 1 and 65535"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        return "must use https (http is allowed only for localhost, 127.0.0.1 and [::1])"
    return None


def _links(document: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    theme = document.get("theme", {})
    if "favicon_url" in theme:
        yield ("theme", "favicon_url"), theme["favicon_url"]
    for key, link in document.get("links", {}).items():
        yield ("links", key), link
    for index, app in enumerate(document.get("applications", [])):
        for key in APPLICATION_PAGE_LINKS:
            if key in app:
                yield ("applications", index, key), app[key]


def check_page_links(document: Mapping[str, Any], context: object) -> Iterator[Problem]:
    for path, link in _links(document):
        problem = page_link_problem(link)
        if problem:
            yield Problem(path, f"{link!r} {problem}")


def check_languages(document: Mapping[str, Any], context: object) -> Iterator[Problem]:
    given = document.get("languages", {})
    languages = {**defaults("languages"), **given}
    supported = languages["supported"]
    if languages["default"] not in supported:
        where = ("languages", "default") if "default" in given else ("languages",)
        yield Problem(where, f"the default language {languages['default']!r} is not among "
                      f"supported ({', '.join(supported)}): add it, or set default to one "
                      "of them", at_key="default" not in given)
    for language in document.get("messages", {}):
        if language not in supported:
            yield Problem(("messages", language), f"{language!r} is not among the tenant's "
                          f"languages ({', '.join(supported)}): its messages would never "
                          "be shown", at_key=True)


def check_messages(document: Mapping[str, Any], context: object) -> Iterator[Problem]:
    for language, overrides in document.get("messages", {}).items():
        for key, value in overrides.items():
            path: tuple[str | int, ...] = ("messages", language, key)
            unknown = unknown_message(key)
            if unknown:
                yield Problem(path, unknown, at_key=True)
                continue
            for index, problem in override_problems(language, key, value):
                yield Problem(path if index is None else (*path, index), problem)


PAGE_RULES = (check_page_links, check_languages, check_messages)
