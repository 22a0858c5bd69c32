"""Signing keys per tenant, in the state directory (never in tenants/).

Layout: ``<state>/keys/<tenant>/<kid>.json`` (a private JWK, mode 0600) and
``<state>/keys/<tenant>/retired/`` for keys no longer published. Every key in the directory is
published in the JWKS, so tokens signed before ``confidp keys rotate`` keep verifying until
``confidp keys retire``. For each algorithm (RS256, ES256, EdDSA with Ed25519) the newest key
whose ``sign_from`` time has come signs. Every tenant has RS256 and ES256 keys; an EdDSA key is
made when an application of the tenant first signs with EdDSA (``ring(..., algorithms)``), and
from then on is rotated with the others.

A rotated key is published at once but signs only ``PUBLISH_AHEAD_SECONDS`` later (unless the
rotation asks for less): relying parties cache the JWKS (for as long as its ``Cache-Control``
allows, or until a token names a key they do not have, some at most every 30 s), and one that
fetched it just before the rotation must not be handed a token signed by a key it cannot know
of. Every replica switches at the same moment, read from the key file, not when it notices it.

Keys are made when a tenant first needs one, not at start (RSA generation for a thousand
tenants would take minutes). Replicas sharing the state directory never race: a key is written
to a temporary file and linked into place, which fails if the name exists; and a tenant gets a
first key only through a fixed name per algorithm (``initial-RS256.json``), so two processes
creating it at once end with the same key.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwa import EdDSAAlgorithm, JWSAlgModel
from joserfc.jwk import ECKey, Key, KeyParameters, KeySet, OKPKey, RSAKey, import_key
from joserfc.jws import JWSRegistry

from confidp.clock import Clock, system_clock
from confidp.files import create_once

RS256, ES256, EDDSA = "RS256", "ES256", "EdDSA"
ALGORITHMS = (RS256, ES256, EDDSA)  # every algorithm confidp signs with
BASE_ALGORITHMS = frozenset({RS256, ES256})  # every tenant has keys of these
SigningKey = RSAKey | ECKey | OKPKey
# the JWKS's max-age (confidp.web.discovery): a JWKS fetched just before a rotation may be
# used that long by a relying party that caches it as the response allows
PUBLISH_AHEAD_SECONDS = 300


class _EdDSA(EdDSAAlgorithm):
    """EdDSA (RFC 8037) without joserfc's warning that RFC 9864 deprecates the name in favour
    of "Ed25519": relying parties know "EdDSA" (OpenID Connect libraries, node-oidc-provider);
    the fully specified name is not yet what they accept."""

    security_warning = ""  # falsy: joserfc warns only when it is set


class _Registry(JWSRegistry):
    algorithms: dict[str, JWSAlgModel] = {  # noqa: RUF012 - joserfc's own shape
        **JWSRegistry.algorithms, EDDSA: _EdDSA()}


_REGISTRY = _Registry(algorithms=ALGORITHMS)  # only these, and EdDSA among them
_KEY_FILE_MODE = 0o600
# File times can be as coarse as a timer tick (Linux before 6.13 stamps files from a clock
# that moves every few milliseconds) or, on some network file systems, a second: a directory
# time less than this old may hide a change made within the same tick.
_FILE_TICK_NS = 2_000_000_000


class KeyFileError(ValueError):
    """A file of the key directory that is not a key confidp can use."""


class TokenError(Exception):
    """A JWT that does not verify: bad signature, unknown key, malformed."""


def _generate(alg: str) -> SigningKey:
    parameters: KeyParameters = {"alg": alg, "use": "sig"}
    if alg == RS256:
        return RSAKey.generate_key(2048, parameters, auto_kid=True)
    if alg == EDDSA:  # RFC 8037: an OKP key on Ed25519
        return OKPKey.generate_key("Ed25519", parameters, auto_kid=True)
    return ECKey.generate_key("P-256", parameters, auto_kid=True)


@dataclass(frozen=True, slots=True)
class KeyRing:
    """One tenant's keys at one moment: the newest key of each algorithm whose time to sign
    has come signs, all verify."""

    signing: Mapping[str, SigningKey]  # alg -> key
    published: KeySet
    jwks: dict[str, Any]
    upcoming: Mapping[str, float]  # kid -> when it starts signing (newer than the signer)
    changes_at: float  # when the next upcoming key starts signing (math.inf: none)

    def sign(self, header: dict[str, Any], claims: dict[str, Any], alg: str) -> str:
        key = self.signing[alg]
        return jwt.encode({**header, "alg": alg, "kid": key.kid}, claims, key,
                          registry=_REGISTRY)

    def verify(self, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Header and claims of a JWT signed by one of this tenant's published keys."""
        try:
            decoded = jwt.decode(token, self.published, registry=_REGISTRY)
        except (JoseError, ValueError, TypeError) as exc:
            raise TokenError(str(exc)) from None
        return dict(decoded.header), dict(decoded.claims)


@dataclass(frozen=True, slots=True)
class _Cached:
    """A key ring as read, and how to tell that its directory has not changed since."""

    mtime_ns: int  # the directory's modification time when it was read
    # its entries then, kept while that time was too recent to trust: a change made within
    # the same tick of the file clock leaves the time as it was (None: the time is enough)
    names: frozenset[str] | None
    ring: KeyRing


class KeyStore:
    """The key rings of all tenants, read from the state directory and cached until the
    tenant's key directory changes (a rotation by the CLI is seen without restart)."""

    def __init__(self, state_dir: Path, clock: Clock = system_clock) -> None:
        self.root = state_dir / "keys"
        self._clock = clock
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def directory(self, tenant_id: str) -> Path:
        return self.root / tenant_id

    def cached(self, tenant_id: str,
               algorithms: frozenset[str] = BASE_ALGORITHMS) -> KeyRing | None:
        """The tenant's key ring if it is cached and its directory has not changed since: one
        stat (and a listing, shortly after a change), safe on the event loop (it never waits
        for the lock a key creation holds)."""
        entry = self._cache.get(tenant_id)
        if entry is None or not algorithms <= entry.ring.signing.keys() \
                or not self._current(tenant_id, entry):
            return None
        return entry.ring

    def _current(self, tenant_id: str, entry: _Cached) -> bool:
        """Whether ``entry`` still is the tenant's ring: no key's time to sign has come, and
        the directory has not changed (once its time is old enough to be trusted alone, the
        entry stops listing it)."""
        if self._clock() >= entry.ring.changes_at:
            return False
        directory = self.directory(tenant_id)
        try:
            if directory.stat().st_mtime_ns != entry.mtime_ns:
                return False
            if entry.names is None:
                return True
            if frozenset(os.listdir(directory)) != entry.names:
                return False
        except FileNotFoundError:
            return False
        if time.time_ns() - entry.mtime_ns > _FILE_TICK_NS and \
                self._cache.get(tenant_id) is entry:
            self._cache[tenant_id] = _Cached(entry.mtime_ns, None, entry.ring)
        return True

    def ring(self, tenant_id: str, algorithms: frozenset[str] = BASE_ALGORITHMS) -> KeyRing:
        """The tenant's key ring, creating the first key of each of ``algorithms`` (and of
        the base ones) it has none of (blocking: call from a thread)."""
        directory = self.directory(tenant_id)
        wanted = BASE_ALGORITHMS | algorithms
        with self._lock:
            entry = self._cache.get(tenant_id)
            if entry is not None and wanted <= entry.ring.signing.keys() \
                    and self._current(tenant_id, entry):
                return entry.ring
            mtime_ns, names = self._version(directory)
            keys = self._read(directory)
            missing = [alg for alg in ALGORITHMS
                       if alg in wanted and not any(k.alg == alg for k, _ in keys)]
            for alg in missing:
                self._create(directory, alg, sign_after=None)
            if missing:
                mtime_ns, names = self._version(directory)
                keys = self._read(directory)
            ring = self._ring(keys, self._clock())
            recent = time.time_ns() - mtime_ns <= _FILE_TICK_NS
            self._cache[tenant_id] = _Cached(mtime_ns, names if recent else None, ring)
            return ring

    @staticmethod
    def _version(directory: Path) -> tuple[int, frozenset[str]]:
        """The directory's modification time and entries, read before its files."""
        try:
            return directory.stat().st_mtime_ns, frozenset(os.listdir(directory))
        except FileNotFoundError:
            return -1, frozenset()

    def read(self, tenant_id: str) -> KeyRing | None:
        """The tenant's key ring as it is on disk, or None when it has no keys yet. Only
        reads: nothing is created (``confidp keys list``)."""
        keys = self._read(self.directory(tenant_id))
        return self._ring(keys, self._clock()) if keys else None

    def rotate(self, tenant_id: str, sign_after: float = PUBLISH_AHEAD_SECONDS) -> list[str]:
        """Add a new key for each algorithm in use (the base ones, and any the tenant has a
        key of), published at once, signing ``sign_after`` seconds from now. Returns the new
        kids."""
        directory = self.directory(tenant_id)
        ring = self.ring(tenant_id)  # make sure the initial keys exist first
        return [self._create(directory, alg, sign_after=sign_after)
                for alg in ALGORITHMS if alg in ring.signing]

    def retire(self, tenant_id: str) -> list[str]:
        """Stop publishing every key older than the one of its algorithm that signs now (keys
        waiting for their time to sign stay). Returns the retired kids."""
        directory = self.directory(tenant_id)
        entries = self._read(directory)
        ring = self._ring(entries, self._clock())
        kept = {key.kid for key in ring.signing.values()} | set(ring.upcoming)
        older = [key for key, _ in entries if key.kid not in kept]
        if not older:
            return []  # nothing to move (also: no keys yet, so no directory to write in)
        retired_dir = directory / "retired"
        retired_dir.mkdir(mode=0o700, exist_ok=True)
        retired = []
        for key in older:
            for path in directory.glob("*.json"):
                if json.loads(path.read_text()).get("kid") == key.kid:
                    os.replace(path, retired_dir / path.name)
                    retired.append(str(key.kid))
        return retired

    def _create(self, directory: Path, alg: str, *, sign_after: float | None) -> str:
        """A new key; ``sign_after`` None: a tenant's first key (signs at once)."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = _generate(alg)
        now = self._clock()
        record = {**key.as_dict(private=True), "created_at": now,
                  "sign_from": now + (sign_after or 0)}
        name = f"initial-{alg}.json" if sign_after is None else f"{int(now)}-{key.kid}.json"
        create_once(directory / name, json.dumps(record).encode(), _KEY_FILE_MODE)
        return str(key.kid)

    @staticmethod
    def _read(directory: Path) -> list[tuple[SigningKey, float]]:
        """The keys, oldest first, each with the time it may sign from."""
        records = []
        if directory.is_dir():
            for path in directory.glob("*.json"):
                with contextlib.suppress(OSError, ValueError):
                    records.append(json.loads(path.read_text()))
        records.sort(key=lambda r: (r.get("created_at", 0), r.get("kid", "")))
        keys: list[tuple[SigningKey, float]] = []
        for record in records:
            created_at = record.pop("created_at", 0)
            sign_from = record.pop("sign_from", created_at)  # keys from before: at once
            try:
                key = import_key(record)
            except JoseError as exc:
                raise KeyFileError(f"a key file is not a valid key: {exc}") from None
            if isinstance(key, RSAKey | ECKey | OKPKey):
                keys.append((key, float(sign_from)))
        return keys

    @staticmethod
    def _ring(entries: list[tuple[SigningKey, float]], now: float) -> KeyRing:
        signing: dict[str, SigningKey] = {}
        signer_at: dict[str, int] = {}
        for index, (key, sign_from) in enumerate(entries):  # oldest first: the newest wins
            alg = str(key.alg)
            if alg in ALGORITHMS and (sign_from <= now or alg not in signing):
                signing[alg] = key  # (an algorithm always has a key, even a waiting one)
                signer_at[alg] = index
        upcoming = {str(key.kid): sign_from for index, (key, sign_from) in enumerate(entries)
                    if sign_from > now and index > signer_at.get(str(key.alg), index)}
        keys = [key for key, _ in entries]
        jwks = {"keys": [key.as_dict(private=False) for key in keys]}
        return KeyRing(signing, KeySet(list[Key](keys)), jwks, MappingProxyType(upcoming),
                       min(upcoming.values(), default=math.inf))
