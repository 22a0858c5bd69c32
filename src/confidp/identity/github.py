"""The ``github`` connector: GitHub or GitHub Enterprise Server through an OAuth app (Dex's
``connector/github``).

- Sign-in at ``{host}/login/oauth/authorize``, the code exchanged at
  ``{host}/login/oauth/access_token`` (client_secret_post, JSON asked for), with PKCE S256.
- The REST API (``https://api.github.com``, or ``{host}/api/v3`` on Enterprise Server):
  ``/user`` (the numeric ``id`` is the upstream subject: a login can be renamed and reused),
  ``/user/emails`` (the primary address, verified per GitHub), and, when the connector
  lists ``orgs`` or ``load_all_groups``, ``/user/orgs`` and ``/user/teams`` (following at
  most ``MAX_PAGES`` pages of 100).
- Groups: each organisation ``org`` and each team ``org:team-slug``; with ``orgs``, only
  members of a listed organisation (and of a listed team of it, where teams are listed) may
  sign in, and only the listed ones are groups unless ``load_all_groups``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from confidp.identity import federated, upstream_oauth
from confidp.identity.identity import Identity
from confidp.identity.oauth2 import OAuth2Source
from confidp.identity.sources import CallbackContext, NotAllowed, UpstreamError, UpstreamRequest
from confidp.model import Connector, Tenant
from confidp.outbound import API

KIND = "github"
GITHUB = "https://github.com"
GITHUB_API = "https://api.github.com"
MAX_PAGES = 10
CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105 - what GitHub's docs show
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


def api_url(connector: Connector) -> str:
    configured = connector.settings.get("api_url")
    if configured:
        return str(configured).rstrip("/")
    host = str(connector.settings["host"]).rstrip("/")
    return GITHUB_API if host == GITHUB else f"{host}/api/v3"


def scopes_of(connector: Connector) -> list[str]:
    scopes = ["read:user", "user:email"]
    if connector.settings.get("orgs") or connector.settings.get("load_all_groups"):
        scopes.append("read:org")
    return scopes


def groups_of(connector: Connector, orgs: Sequence[str],
              teams: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The person's groups, or ``NotAllowed`` when the connector's ``orgs`` leave them out.
    ``teams`` are (organisation, team slug) pairs."""
    listed: Sequence[Mapping[str, Any]] = connector.settings.get("orgs") or []
    load_all = bool(connector.settings.get("load_all_groups"))
    groups: list[str] = []
    allowed = not listed
    member_of = {org.casefold() for org in orgs}
    for entry in listed:
        org = str(entry["name"])
        if org.casefold() not in member_of:
            continue
        wanted = {str(team).casefold() for team in entry.get("teams") or []}
        mine = [slug for team_org, slug in teams if team_org.casefold() == org.casefold()]
        if wanted and not wanted & {slug.casefold() for slug in mine}:
            continue
        allowed = True
        groups.append(org)
        groups.extend(f"{org}:{slug}" for slug in mine if not wanted or slug.casefold() in wanted)
    if not allowed:
        raise NotAllowed("is in none of the connector's orgs (or their listed teams)")
    if load_all:
        groups.extend(orgs)
        groups.extend(f"{org}:{slug}" for org, slug in teams)
    return tuple(dict.fromkeys(groups))


class GitHubSource(OAuth2Source):
    kind = KIND

    async def login_url(self, upstream: UpstreamRequest, context: CallbackContext) -> str:
        host = str(self.connector.settings["host"]).rstrip("/")
        return upstream_oauth.authorization_url(f"{host}/login/oauth/authorize",
                                                self.connector, upstream,
                                                scopes_of(self.connector), nonce=False)

    async def callback(self, params: Mapping[str, str], upstream: UpstreamRequest,
                       context: CallbackContext) -> Identity:
        host = str(self.connector.settings["host"]).rstrip("/")
        upstream_oauth.check_error(params)
        code = upstream_oauth.code_of(params)
        tokens = await upstream_oauth.exchange_code(
            context, self.connector, f"{host}/login/oauth/access_token", code, upstream,
            auth_method=CLIENT_SECRET_POST)
        token = str(tokens["access_token"])
        user = await self._get(context, "/user", token)
        if not isinstance(user, dict) or not isinstance(user.get("id"), int):
            raise self._invalid(context, "/user has no numeric id")
        email, verified = await self._email(context, token, user)
        orgs: list[str] = []
        teams: list[tuple[str, str]] = []
        if self.connector.settings.get("orgs") or self.connector.settings.get(
                "load_all_groups"):
            orgs = [str(org["login"]) for org in await self._pages(context, "/user/orgs",
                                                                   token)
                    if isinstance(org, dict) and "login" in org]
            teams = [(str(team["organization"]["login"]), str(team["slug"]))
                     for team in await self._pages(context, "/user/teams", token)
                     if isinstance(team, dict) and "slug" in team
                     and isinstance(team.get("organization"), dict)]
        groups = groups_of(self.connector, orgs, teams)
        data = {"id": user["id"], "login": user.get("login"), "name": user.get("name"),
                "email": email, "picture": user.get("avatar_url"),
                "profile": user.get("html_url")}
        identity = federated.map_identity(self.connector, data, issuer=host, now=context.now,
                                          extra_groups=groups, email_verified=verified)
        return federated.admitted(self.connector, context.tenant, identity)

    def _invalid(self, context: CallbackContext, detail: str) -> UpstreamError:
        error = UpstreamError(f"GitHub: {detail}", "invalid_userinfo")
        context.outbound.record_error(context.tenant.id, self.connector, API, error)
        return error

    async def _get(self, context: CallbackContext, path: str, token: str,
                   params: Mapping[str, str] | None = None) -> Any:
        return await context.outbound.json(
            context.tenant.id, self.connector, API, "GET", api_url(self.connector) + path,
            params=params, headers={**API_HEADERS, "Authorization": f"Bearer {token}"})

    async def _pages(self, context: CallbackContext, path: str, token: str) -> list[Any]:
        found: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            batch = await self._get(context, path, token, {"per_page": "100",
                                                           "page": str(page)})
            if not isinstance(batch, list):
                raise self._invalid(context, f"{path} is not a list")
            found.extend(batch)
            if len(batch) < 100:
                break
        return found

    async def _email(self, context: CallbackContext, token: str,
                     user: Mapping[str, Any]) -> tuple[str | None, bool]:
        """The primary e-mail address and whether GitHub verified it."""
        emails = await self._get(context, "/user/emails", token)
        if isinstance(emails, list):
            for entry in emails:
                if isinstance(entry, dict) and entry.get("primary") and \
                        isinstance(entry.get("email"), str):
                    return entry["email"], entry.get("verified") is True
        public = user.get("email")
        return (public, False) if isinstance(public, str) else (None, False)


def build(tenant: Tenant, settings: Mapping[str, Any]) -> GitHubSource:
    connector = tenant.connector(str(settings["id"]))
    assert connector is not None  # declared_sources gives only the tenant's connectors
    return GitHubSource(connector)
