"""The ``ldap`` connector: an LDAP directory (OpenLDAP, Active Directory, 389 DS, ...) as a
``PasswordSource``. The person types a username and password into confidp's own themed
login form; confidp checks them against the directory (``confidp.identity.ldap_directory``:
service-account search, bind as the user, group search) and never stores the password.

- **Off the event loop.** ldap3 is synchronous: every directory check runs in this
  connector's own thread pool of ``max_concurrent`` threads, and waits at most ``timeout``
  (queue included). Past that, or when the directory cannot answer, the sign-in gets a clear
  "temporarily unavailable" (``SourceUnavailable``, 503), never a hang or a 500, and the
  failure is the connector's ``last_error`` in /status. When ``max_concurrent`` checks run and
  as many wait, a further one is refused at once rather than queued without bound.
- **Throttling** is the password step's (``confidp.throttle``): a guess at an LDAP password
  is counted per username and per IP before the directory sees it, exactly like a guess at a
  local one.
- **Subject**: ``{connector id}:{id attribute}`` (e.g. ``corp-ldap:8f0c…`` from
  ``entryUUID``, or Active Directory's ``objectGUID``), never a username or DN (both can be
  renamed or reused): stable for the person, and distinct from every local user and every
  other connector's people, made like every connector's (``federated_subject``).
- **amr** is ``["pwd"]``: the person proved a password, typed into confidp's form; no other
  identity provider vouched for them (RFC 8176 §2 ``pwd``; a federated ``fed`` would tell a
  relying party that an upstream provider authenticated the person, which is not what
  happened).
- **Re-validation** (a session, a code, a refresh token, userinfo): the entry is searched
  again by its id with the service account (one bind and two searches); gone, out of the
  user filter, or out of ``allowed_groups``: the state made for it ends. A positive answer is
  trusted for ``revalidate_interval`` (0: every use). A directory that cannot answer makes the
  request fail with 503, and the session or refresh token stays valid for a later try.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, TypeVar

from confidp import audit
from confidp.identity import ldap_directory as directory
from confidp.identity.federated import federated_subject
from confidp.identity.identity import PASSWORD, Identity, Upstream
from confidp.identity.ldap_directory import DirectoryError, DirectoryUser
from confidp.identity.ldap_settings import LdapSettings, settings_of
from confidp.identity.sources import SourceContext, SourceUnavailable
from confidp.model import Secret, Tenant

LDAP = "ldap"
# the directory's answers as confidp.audit's sign-in failure reasons
_REASONS: Mapping[str, str] = MappingProxyType({
    directory.UNKNOWN_USER: audit.UNKNOWN_USER, directory.WRONG_PASSWORD: audit.WRONG_PASSWORD})
log = logging.getLogger("confidp.ldap")
_QUEUE_FACTOR = 2  # checks that may wait for a thread, per thread
_MAX_REMEMBERED = 10_000  # re-validations remembered (revalidate_interval)

T = TypeVar("T")


@dataclass(slots=True)
class Health:
    """What /status shows of the connector: its last successful check and its last error
    (what failed and when; never a password or a username)."""

    last_success_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None

    def to_json(self) -> dict[str, object]:
        return {"last_success_at": self.last_success_at, "last_error": self.last_error,
                "last_error_at": self.last_error_at}


class LdapSource:
    """One ``ldap`` connector of one tenant version."""

    kind = LDAP

    def __init__(self, connector_id: str, display_name: str, settings: LdapSettings) -> None:
        self.id = connector_id
        self.display_name = display_name
        self.settings = settings
        self.health = Health()
        # its own threads: a slow directory holds them, never the event loop nor the
        # argon2 pool; freed with the source when a reload replaces it
        self._pool = ThreadPoolExecutor(max_workers=settings.max_concurrent,
                                        thread_name_prefix=f"confidp-ldap-{connector_id}")
        self._waiting = 0
        self._checked: dict[str, tuple[float, Identity]] = {}

    # -- PasswordSource ------------------------------------------------------------------

    async def authenticate(self, username: str, password: str,
                           context: SourceContext) -> Identity | None:
        """The person, or None (unknown, wrong password, not in an allowed group). Never
        sends an empty password (RFC 4513 §5.1.2: it would be an unauthenticated bind)."""
        if not username or not password:
            return None
        user = await self._run(context.now, directory.authenticate, self.settings, username,
                               password)
        if isinstance(user, str):  # why not, for the audit event: unknown or wrong password
            context.refuse(self.id, _REASONS[user])
            return None
        if not self._allowed(user):  # the password was right: the person sees "incorrect"
            context.refuse(self.id, audit.NOT_ALLOWED)
            log.info("ldap connector %s of %s: no sign-in: %s is in none of allowed_groups",
                     self.id, context.tenant.id, user.username)
            return None
        return self._identity(user, auth_time=context.now)

    async def revalidate(self, identity: Identity, tenant: Tenant,
                         now: float) -> Identity | None:
        """The person as the directory has them now, or None when they may no longer sign
        in (see the module's docstring)."""
        if identity.upstream is None:
            return None
        remembered = self._checked.get(identity.subject)
        interval = self.settings.revalidate_interval
        if remembered is not None and interval and now - remembered[0] < interval:
            return replace(remembered[1], amr=identity.amr, auth_time=identity.auth_time,
                           acr=identity.acr)
        user = await self._run(now, directory.lookup, self.settings, identity.upstream.subject)
        if user is None or not self._allowed(user):
            self._checked.pop(identity.subject, None)
            return None
        current = replace(self._identity(user, auth_time=identity.auth_time),
                          amr=identity.amr, acr=identity.acr)
        if current.subject != identity.subject:
            return None
        if interval:
            if len(self._checked) >= _MAX_REMEMBERED:
                self._checked.clear()
            self._checked[identity.subject] = (now, current)
        return current

    # -- the rules -------------------------------------------------------------------------

    def _allowed(self, user: DirectoryUser) -> bool:
        allowed = self.settings.allowed_groups
        return not allowed or not allowed.isdisjoint(user.groups)

    def _identity(self, user: DirectoryUser, *, auth_time: float) -> Identity:
        """OpenID Connect Core §5.1 claims from the entry's attributes."""
        claims: dict[str, Any] = {"preferred_username": user.username}
        if user.name:
            claims["name"] = user.name
        if user.email:
            claims["email"] = user.email
            claims["email_verified"] = self.settings.user_search.email_verified
        return Identity(subject=federated_subject(self.id, user.id), source=self.id,
                        username=user.username, claims=MappingProxyType(claims),
                        groups=user.groups, amr=(PASSWORD,), auth_time=auth_time,
                        upstream=Upstream(self.settings.url, user.id))

    async def _run(self, now: float, operation: Callable[..., T], *args: Any) -> T:
        """``operation`` in this connector's threads, within ``timeout``; a failure is
        recorded for /status and raised as ``SourceUnavailable``."""
        if self._waiting >= self.settings.max_concurrent * _QUEUE_FACTOR:
            raise self._failed(now, "too many directory checks at once (max_concurrent)")
        loop = asyncio.get_running_loop()
        self._waiting += 1
        try:
            result = await asyncio.wait_for(loop.run_in_executor(self._pool, operation, *args),
                                            self.settings.timeout)
        except TimeoutError:
            raise self._failed(now, f"{self.settings.url}: no answer within "
                               f"{self.settings.timeout:g} s (timeout)") from None
        except DirectoryError as exc:
            raise self._failed(now, str(exc)) from None
        finally:
            self._waiting -= 1
        self.health.last_success_at = now
        return result

    def _failed(self, now: float, reason: str) -> SourceUnavailable:
        self.health.last_error = reason
        self.health.last_error_at = now
        return SourceUnavailable(source=self.id, reason=reason)

    def status(self) -> Mapping[str, object]:
        """For /status: where the directory is and how the last checks went."""
        return {"url": self.settings.url,
                "tls": "ldaps" if self.settings.use_ssl else
                "starttls" if self.settings.start_tls else "none",
                **self.health.to_json()}


def build(tenant: Tenant, settings: Mapping[str, Any]) -> LdapSource:
    """``SOURCE_TYPES`` factory: the connector's keys (defaults applied) and, from its model,
    the bind password it names and the directory its relative ``ca_file`` is in."""
    connector = tenant.connector(settings["id"])
    if connector is None:
        raise ValueError(f"no connector {settings['id']!r} in tenant {tenant.id!r}")
    password = connector.secret("bind_password")
    return LdapSource(connector.id, connector.name,
                      settings_of(settings, password or Secret(""), connector.base_dir))
