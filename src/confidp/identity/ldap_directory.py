"""The directory operations of the ``ldap`` connector, with ldap3 (synchronous: the connector
runs them in its threads, ``confidp.identity.ldap``). The one module that imports ldap3.

Sign-in (Dex's LDAP connector, RFC 4513, RFC 4515):
1. bind as the service account, search ``user_search.base_dn`` for
   ``(&<filter>(|(<username attribute>=<username>)...))``, the username escaped per RFC 4515
   §3 (ldap3's ``escape_filter_chars``); no entry or more than one: no sign-in;
2. bind as the entry's DN with the password, on a connection of its own; an empty password
   is never sent (RFC 4513 §5.1.2: a simple bind with a DN and an empty password is an
   *unauthenticated* bind, which some servers answer with success): the caller refuses it
   before anything reaches the directory, and ``bind_as_user`` refuses it again;
3. with the service account, search ``group_search.base_dn`` for the groups that hold the
   user (``user_matchers``) and take their ``name_attribute``.

An unknown username still costs one bind (as a DN that cannot exist, which the directory
answers with invalidCredentials like a wrong password), so a miss takes about as long as a
wrong password. Every connection has a connect timeout and a receive timeout (each
operation); referrals are never followed (a referral to another host could hang a sign-in or
send a password elsewhere). TLS: ``ldaps://`` or StartTLS (RFC 4513 §3), the certificate
verified against ``ca_file`` or the system's trust store, and its name checked.
"""

from __future__ import annotations

import base64
import contextlib
import math
import secrets
import ssl
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import ldap3
from ldap3.operation.search import parse_filter
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from confidp.identity.ldap_settings import (
    DN,
    GroupSearch,
    LdapSettings,
    UserMatcher,
    UserSearch,
)

# RFC 4511 §4.1.9 result codes
SUCCESS = 0
INVALID_CREDENTIALS = 49
BUSY = 51
UNAVAILABLE = 52
_UNAVAILABLE_RESULTS = frozenset({3, BUSY, UNAVAILABLE, 80})  # timeLimitExceeded, busy, ...
_SCOPES: Mapping[str, Literal["BASE", "LEVEL", "SUBTREE"]] = MappingProxyType(
    {"sub": "SUBTREE", "one": "LEVEL"})
_MAX_GROUPS = 1000
# Active Directory's objectGUID is 16 bytes in the little-endian GUID layout
_BINARY_GUIDS = frozenset({"objectguid"})


class DirectoryError(Exception):
    """The directory could not answer (unreachable, too slow, TLS failed, the service
    account refused, a search failed). The message names what failed, never a password."""


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A person's entry, as the connector uses it."""

    dn: str
    id: str  # the id attribute's value as text (the subject is derived from it)
    username: str  # the preferred_username attribute's value
    email: str | None
    name: str | None
    groups: tuple[str, ...]


Attributes = Mapping[str, Sequence[bytes]]


def _tls(settings: LdapSettings) -> ldap3.Tls:
    return ldap3.Tls(validate=ssl.CERT_REQUIRED, version=ssl.PROTOCOL_TLS_CLIENT,
                     ca_certs_file=settings.ca_file)


def _server(settings: LdapSettings) -> ldap3.Server:
    return ldap3.Server(settings.host, port=settings.port, use_ssl=settings.use_ssl,
                        tls=_tls(settings) if settings.encrypted else None,
                        get_info=ldap3.NONE, connect_timeout=settings.connect_timeout)


def _connect(settings: LdapSettings, user: str, password: str) -> ldap3.Connection:
    """An open connection, secured (StartTLS when configured), not bound yet."""
    connection = ldap3.Connection(
        _server(settings), user=user, password=password, authentication=ldap3.SIMPLE,
        auto_bind=ldap3.AUTO_BIND_NONE, read_only=True, raise_exceptions=False,
        receive_timeout=math.ceil(settings.timeout), auto_referrals=False,
        return_empty_attributes=False)
    try:
        connection.open()
        secured = connection.start_tls() if settings.start_tls else True
    except Exception as exc:  # ldap3 raises its own, socket's, ssl's and struct's
        _close(connection)
        raise DirectoryError(_describe(exc, settings)) from None
    if not secured:
        description = _result(connection)
        _close(connection)
        raise DirectoryError(f"{settings.url}: StartTLS failed: {description}")
    return connection


def _close(connection: ldap3.Connection) -> None:
    """Unbind and close, whatever state the connection is in (a failed StartTLS leaves its
    socket unusable)."""
    with contextlib.suppress(Exception):
        connection.unbind()
    with contextlib.suppress(Exception):
        if connection.socket is not None:
            connection.socket.close()


def _describe(exc: Exception, settings: LdapSettings) -> str:
    """What failed, for /status and the log: ldap3's message, which names the host and the
    socket or TLS error and never a credential. A socket timeout (ldap3's receive error is
    then also a ``TimeoutError``) is marked ``(timeout)``, as the connector's own deadline
    is (``confidp.identity.ldap``): the receive timeout equals that deadline, so either may
    fire first."""
    described = f"{settings.url}: {type(exc).__name__}: {exc}"
    return f"{described} (timeout)" if isinstance(exc, TimeoutError) else described


def _result(connection: ldap3.Connection) -> str:
    result = connection.result or {}
    return f"{result.get('description', 'no answer')} ({result.get('result', '?')})"


def service_connection(settings: LdapSettings) -> ldap3.Connection:
    """Bound as the service account: the searches run on it."""
    connection = _connect(settings, settings.bind_dn, settings.bind_password.reveal())
    try:
        bound = connection.bind()
    except Exception as exc:  # ldap3 raises its own, socket's, ssl's and struct's
        _close(connection)
        raise DirectoryError(_describe(exc, settings)) from None
    if not bound:
        description = _result(connection)
        _close(connection)
        raise DirectoryError(f"{settings.url}: the service account's bind failed: "
                             f"{description}")
    return connection


def bind_as_user(settings: LdapSettings, dn: str, password: str) -> bool:
    """Whether ``password`` is right for ``dn``: a simple bind on a connection of its own.
    Never sent with an empty password (RFC 4513 §5.1.2)."""
    if not password:
        return False
    connection = _connect(settings, dn, password)
    try:
        bound = connection.bind()
        code = (connection.result or {}).get("result")
    except Exception as exc:  # ldap3 raises its own, socket's, ssl's and struct's
        raise DirectoryError(_describe(exc, settings)) from None
    finally:
        _close(connection)
    if not bound and code in _UNAVAILABLE_RESULTS:
        raise DirectoryError(f"{settings.url}: the user's bind was not answered: {code}")
    return bool(bound)


def user_filter(search: UserSearch, username: str) -> str:
    """RFC 4515: the configured filter and the username in one of the username attributes,
    the username escaped (``*``, ``(``, ``)``, ``\\`` and NUL can never change the filter)."""
    value = escape_filter_chars(username)
    alternatives = "".join(f"({attribute}={value})" for attribute in search.username_attributes)
    return f"(&{search.filter}(|{alternatives}))"


def id_filter(search: UserSearch, user_id: str) -> str:
    """The filter that finds an entry again by its id attribute's value (``id_text``)."""
    return f"(&{search.filter}({search.id_attribute}={id_assertion(search.id_attribute, user_id)}))"


def id_text(attribute: str, raw: bytes) -> str:
    """An id attribute's value as text: a binary GUID as its usual string form, UTF-8 text as
    itself, any other bytes as base64url."""
    if attribute.lower() in _BINARY_GUIDS and len(raw) == 16:
        return str(uuid.UUID(bytes_le=raw))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "b64:" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return text if text.isprintable() else "b64:" + base64.urlsafe_b64encode(raw).rstrip(
        b"=").decode("ascii")


def id_assertion(attribute: str, text: str) -> str:
    """``id_text`` back to an escaped filter value (RFC 4515 §3: binary as ``\\xx``)."""
    raw: bytes
    if attribute.lower() in _BINARY_GUIDS:
        try:
            raw = uuid.UUID(text).bytes_le
        except ValueError:
            raw = text.encode()
        return "".join(f"\\{byte:02x}" for byte in raw)
    if text.startswith("b64:"):
        padded = text[4:] + "=" * (-len(text[4:]) % 4)
        raw = base64.urlsafe_b64decode(padded)
        return "".join(f"\\{byte:02x}" for byte in raw)
    return str(escape_filter_chars(text))


def filter_problem(text: str) -> str | None:
    """What is wrong with ``text`` as an LDAP filter (RFC 4515), as ldap3 parses what it
    sends; None when it is one."""
    try:
        parse_filter(text, None, auto_escape=False, auto_encode=False,  # type: ignore[no-untyped-call]
                     validator=None,
                     check_names=False)
    except Exception as exc:  # ldap3's LDAPInvalidFilterError, and what its parser raises
        return str(exc) or type(exc).__name__
    return None


def _entries(connection: ldap3.Connection) -> Iterator[tuple[str, Attributes]]:
    for item in connection.response or ():
        if item.get("type") == "searchResEntry":
            yield str(item["dn"]), _folded(item.get("raw_attributes", {}))


def _folded(attributes: Mapping[str, Sequence[bytes]]) -> dict[str, Sequence[bytes]]:
    """Attribute names are case-insensitive (RFC 4512 §2.5)."""
    return {name.lower(): values for name, values in attributes.items()}


def _first(attributes: Attributes, name: str | None) -> str | None:
    if not name:
        return None
    for value in attributes.get(name.lower(), ()):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return None


def _search(connection: ldap3.Connection, settings: LdapSettings, base: str, scope: str,
            search_filter: str, attributes: Sequence[str],
            size_limit: int) -> list[tuple[str, Attributes]]:
    try:
        connection.search(base, search_filter, search_scope=_SCOPES[scope],
                          attributes=list(attributes), size_limit=size_limit,
                          time_limit=max(1, int(settings.timeout)))
    except Exception as exc:  # ldap3 raises its own, socket's, ssl's and struct's
        raise DirectoryError(_describe(exc, settings)) from None
    code = (connection.result or {}).get("result")
    if code not in (SUCCESS, 4):  # 4: sizeLimitExceeded, the entries so far are there
        if code == 32:  # noSuchObject: the base DN does not exist
            raise DirectoryError(f"{settings.url}: the search base {base!r} does not exist")
        raise DirectoryError(f"{settings.url}: a search failed: {_result(connection)}")
    return list(_entries(connection))


def _user_attributes(search: UserSearch) -> list[str]:
    names = [search.id_attribute, search.preferred_username_attribute,
             *search.username_attributes]
    names += [name for name in (search.email_attribute, search.name_attribute) if name]
    return list(dict.fromkeys(names))


def find_user(connection: ldap3.Connection, settings: LdapSettings,
              search_filter: str) -> tuple[str, Attributes] | None:
    """The one entry ``search_filter`` finds; None for none, or for several (ambiguous: no
    one signs in as "whichever came first")."""
    search = settings.user_search
    found = _search(connection, settings, search.base_dn, search.scope, search_filter,
                    _user_attributes(search), size_limit=2)
    return found[0] if len(found) == 1 else None


def group_filter(search: GroupSearch, matcher: UserMatcher, values: Sequence[str]) -> str:
    """The groups that list one of ``values`` in the matcher's group attribute (which may
    carry an extensible match rule, RFC 4515 §3), the values escaped."""
    alternatives = "".join(f"({matcher.group_attribute}={escape_filter_chars(value)})"
                           for value in values)
    return f"(&{search.filter}(|{alternatives}))"


def groups_of(connection: ldap3.Connection, settings: LdapSettings, dn: str,
              attributes: Attributes) -> tuple[str, ...]:
    """The names of the groups that hold the user, by each user matcher, in directory
    order, each once."""
    search: GroupSearch | None = settings.group_search
    if search is None:
        return ()
    names: dict[str, None] = {}
    for matcher in search.user_matchers:
        if matcher.user_attribute.upper() == DN:
            values = [dn]
        else:
            values = [v.decode("utf-8", "replace")
                      for v in attributes.get(matcher.user_attribute.lower(), ())]
        if not values:
            continue
        found = _search(connection, settings, search.base_dn, search.scope,
                        group_filter(search, matcher, values), [search.name_attribute],
                        size_limit=_MAX_GROUPS)
        for _dn, group in found:
            name = _first(group, search.name_attribute)
            if name:
                names[name] = None
    return tuple(names)


def _user(connection: ldap3.Connection, settings: LdapSettings, dn: str,
          attributes: Attributes) -> DirectoryUser | None:
    search = settings.user_search
    raw_id = next(iter(attributes.get(search.id_attribute.lower(), ())), None)
    username = _first(attributes, search.preferred_username_attribute)
    if raw_id is None or not username:
        return None  # no stable id to derive a subject from: no sign-in
    return DirectoryUser(dn=dn, id=id_text(search.id_attribute, raw_id), username=username,
                         email=_first(attributes, search.email_attribute),
                         name=_first(attributes, search.name_attribute),
                         groups=groups_of(connection, settings, dn, attributes))


def _no_such_dn(settings: LdapSettings) -> str:
    """A DN under the user base that cannot exist (random), for the bind an unknown user
    costs."""
    return f"cn={escape_rdn('confidp-no-such-user-' + secrets.token_hex(8))}," \
           f"{settings.user_search.base_dn}"


# why a sign-in found no one (for the audit log; the person sees one message for all)
UNKNOWN_USER = "unknown_user"  # no entry, several entries, or one without an id
WRONG_PASSWORD = "wrong_password"  # noqa: S105 - a reason's name


def authenticate(settings: LdapSettings, username: str,
                 password: str) -> DirectoryUser | str:
    """Sign-in, steps 1 to 3 of the module's docstring: the person, or why not
    (``UNKNOWN_USER``: unknown, ambiguous or without an id; ``WRONG_PASSWORD``). Raises
    ``DirectoryError`` when the directory cannot answer."""
    if not password:
        return WRONG_PASSWORD
    connection = service_connection(settings)
    try:
        found = find_user(connection, settings, user_filter(settings.user_search, username))
        if found is None:
            bind_as_user(settings, _no_such_dn(settings), password)  # the same cost as a miss
            return UNKNOWN_USER
        dn, attributes = found
        if not bind_as_user(settings, dn, password):
            return WRONG_PASSWORD
        return _user(connection, settings, dn, attributes) or UNKNOWN_USER
    finally:
        _close(connection)


def lookup(settings: LdapSettings, user_id: str) -> DirectoryUser | None:
    """The person with this id as the directory has them now (re-validation), or None when
    the entry is gone or no longer matches the user filter. Raises ``DirectoryError``."""
    connection = service_connection(settings)
    try:
        found = find_user(connection, settings, id_filter(settings.user_search, user_id))
        if found is None:
            return None
        return _user(connection, settings, *found)
    finally:
        _close(connection)
