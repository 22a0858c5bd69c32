"""The tenant cache: the tenants last validated, kept in the state directory, so that a restart
(or a new replica sharing the state directory) serves its tenants without parsing every file.

At 10 000 tenants a first start spends about 2 ms per file, 1 ms of it in PyYAML's C loader
alone (``bench/startup_cost.py``); a tenant taken from the cache costs its read, its SHA-256 and
its decoding, about a tenth of that. The cache holds, for each tenant-file name, the content
hash of the bytes validated, the built ``Tenant``, its warnings and where its issuer is. At the
first load a file whose bytes hash to its entry's hash is served from the entry; any other file
(new, edited, or its entry missing) is read and validated as always, so a stale cache only
costs time, never serves old content.

What an entry never holds: a tenant that read anything but its own bytes to be built. One
whose client secret comes from the environment or a file, or that has connectors (their
secrets and CA files are read at load), is validated at every start; that keeps the secrets
themselves out of the state directory and a changed environment variable in force at once.
An entry holds the users' and clients' argon2 hashes, as the tenant files do.

Trust: an entry is code-shaped data, so before anything in the file is decoded its HMAC-SHA256
is checked under a key derived from ``server.key`` for this one purpose, and it is then decoded
by an unpickler that can make only confidp's model classes. The file name carries a
fingerprint of confidp's code (every file of the package) and of Python's version, and the
file records the theme names the tenants were checked against: another version of confidp,
another set of themes, a file that fails either check, or any other problem in reading it, and
the cache is ignored, said once in the log, and every file validated.

The file is written whole (a temporary file renamed into place, mode 0600) after a start that
had to validate files, and then at most once per ``SAVE_INTERVAL`` while tenants change. A
child process forked for it does the pickling (``TenantCache.save_apart``), so that neither its
CPU time nor its memory is the server's; the server authenticates and writes the bytes, and a
stop kills a child still at work. Replicas sharing the state directory each write the same
content; the rename keeps every reader's view whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import copyreg
import dataclasses
import gc
import hashlib
import importlib
import io
import logging
import operator
import os
import pickle
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, MemberDescriptorType
from typing import Any

import confidp
from confidp.config.errors import ConfigError
from confidp.model import Tenant
from confidp.registry import Snapshot
from confidp.server_key import ServerKey

log = logging.getLogger("confidp.reload")

CACHE_DIR = "cache"
MAGIC = b"confidp tenant cache 1\n"
_PURPOSE = b"tenant cache"
_MAC_BYTES = 32
MAX_BYTES = 1 << 30  # 10 000 tenants of the reload benchmark take 18 MB
_REPLY_BYTES = 4096
CHILD_TIMEOUT = 300.0  # seconds the pickling child may take (10 000 tenants: about 5 here)
SAVE_INTERVAL = 60.0  # seconds between two writes while tenants keep changing
_STALE_SECONDS = 24 * 3600.0  # another fingerprint's file older than this is removed

# The only classes the unpickler makes: the tenant model's own, and the error type.
_MODEL_MODULES = ("confidp.model", "confidp.model.tenant", "confidp.model.connector",
                  "confidp.model.secret")


class CacheProblem(Exception):
    """Why a cache file cannot be used (said in the log; the cache is then ignored)."""


class CacheWriteFailed(Exception):
    """Why the process writing the cache file could not (said in the log)."""


@dataclass(frozen=True, slots=True)
class CachedFile:
    """One tenant file's last validated version."""

    content_hash: str
    tenant: Tenant
    warnings: tuple[ConfigError, ...]
    issuer_at: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Cached:
    """What a cache file holds: the theme names its tenants were checked against, and the
    entries by tenant-file name."""

    themes: frozenset[str]
    entries: Mapping[str, CachedFile]


def cacheable(tenant: Tenant) -> bool:
    """Whether a tenant was built from its file's bytes alone (see the module's note)."""
    if tenant.connectors:
        return False
    for application in tenant.applications.values():
        secret = application.client_secret
        if secret is not None and secret.kind != "hash":
            return False
    return True


def fingerprint() -> str:
    """The same for the same code of confidp on the same Python: every file of the package
    (the rules, the model, the schema, the defaults they use) and the interpreter's version."""
    digest = hashlib.sha256(sys.version.encode() + b"\0" + confidp.__version__.encode())
    root = Path(confidp.__file__).parent
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:24]


def _proxy(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


def _reduce_proxy(mapping: MappingProxyType[Any, Any]) -> tuple[Any, ...]:
    return _proxy, (dict(mapping),)


def _model_classes() -> dict[type, tuple[str, ...]]:
    """The model's dataclasses, each with its fields' names in order."""
    found: dict[type, tuple[str, ...]] = {}
    for module_name in _MODEL_MODULES:
        for value in vars(importlib.import_module(module_name)).values():
            if isinstance(value, type) and value.__module__ in _MODEL_MODULES \
                    and dataclasses.is_dataclass(value):
                found[value] = tuple(f.name for f in dataclasses.fields(value))
    found[CachedFile] = tuple(f.name for f in dataclasses.fields(CachedFile))
    return found


def _setters(cls: type, names: tuple[str, ...]) -> tuple[Callable[[Any, Any], None], ...]:
    """Each field's slot setter (a frozen dataclass refuses ``setattr``)."""
    found: list[Callable[[Any, Any], None]] = []
    for name in names:
        slot = getattr(cls, name, None)
        if isinstance(slot, MemberDescriptorType):
            found.append(slot.__set__)
        else:
            found.append(_attribute_setter(name))
    return tuple(found)


def _attribute_setter(name: str) -> Callable[[Any, Any], None]:
    def set_attribute(made: Any, value: Any) -> None:
        object.__setattr__(made, name, value)
    return set_attribute


def _rebuild(cls: type, values: tuple[Any, ...]) -> Any:
    """A model object from its fields' values. Frozen dataclasses unpickle through their
    ``__setstate__``, which looks their fields up again for every object; this sets the
    slots straight (a tenant loads in about half the time)."""
    setters = _SETTERS.get(cls)
    if setters is None or len(setters) != len(values):
        raise CacheProblem(f"it holds a {cls.__name__} of another shape")
    made: Any = object.__new__(cls)
    for setter, value in zip(setters, values, strict=True):
        setter(made, value)
    return made


def _reducer(cls: type, names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if len(names) < 2:  # attrgetter of one name gives the value, not a tuple
        return lambda made: (_rebuild, (cls, tuple(getattr(made, n) for n in names)))
    values = operator.attrgetter(*names)
    return lambda made: (_rebuild, (cls, values(made)))


_FIELDS = _model_classes()
_SETTERS = {cls: _setters(cls, names) for cls, names in _FIELDS.items()}
_DISPATCH = copyreg.dispatch_table.copy()
_DISPATCH[MappingProxyType] = _reduce_proxy
for _class, _names in _FIELDS.items():
    _DISPATCH[_class] = _reducer(_class, _names)


class _Unpickler(pickle.Unpickler):
    """Makes confidp's model classes, ``ConfigError``, ``CachedFile`` and read-only mappings
    (through ``_rebuild`` and ``_proxy``), and refuses every other global (functions,
    ``os.system``, ...)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == (__name__, "_proxy"):
            return _proxy
        if (module, name) == (__name__, "_rebuild"):
            return _rebuild
        if (module, name) in ((__name__, "CachedFile"), ("confidp.config.errors",
                                                          "ConfigError")):
            return getattr(importlib.import_module(module), name)
        if module in _MODEL_MODULES:
            found = getattr(importlib.import_module(module), name, None)
            if isinstance(found, type) and found.__module__ in _MODEL_MODULES:
                return found
        raise CacheProblem(f"it names {module}.{name}, which a tenant cache never holds")


class TenantCache:
    """The cache file of this confidp, in ``directory`` (``--cache-dir``; default
    ``<state>/cache``)."""

    def __init__(self, directory: Path, server_key: ServerKey,
                 code: str | None = None) -> None:
        self.directory = directory
        self.code = code or fingerprint()
        self.path = self.directory / f"tenants-{self.code}.bin"
        self._key = server_key
        # what /status says about it
        self.loaded_entries = 0  # entries in the file read at start
        self.used = 0  # files served from it at start
        self.validated = 0  # files validated at start instead
        self.child: int | None = None  # the process pickling it, while one does
        self.saved_entries: int | None = None
        self.saved_at: float | None = None
        self.unused: str | None = None  # why it was not used at start
        self.write_problem: str | None = None  # why it could not be written last time

    def load(self) -> Cached | None:
        """The cache file's content, or None (no file, or a problem, said in the log)."""
        try:
            with open(self.path, "rb") as file:
                size = os.fstat(file.fileno()).st_size
                if size > MAX_BYTES:
                    raise CacheProblem(f"it is larger than {MAX_BYTES} bytes")
                data = file.read(size + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._unusable(f"it cannot be read ({exc.strerror or type(exc).__name__})")
            return None
        except CacheProblem as exc:
            self._unusable(str(exc))
            return None
        collecting = gc.isenabled()
        gc.disable()  # it only makes long-lived objects: collecting would rescan them all
        try:
            cached = self._decode(data)
        except CacheProblem as exc:
            self._unusable(str(exc))
            return None
        except Exception as exc:  # a damaged payload under a valid MAC: say which, go on
            self._unusable(f"it cannot be decoded ({type(exc).__name__})")
            return None
        finally:
            if collecting:
                gc.enable()
        self.loaded_entries = len(cached.entries)
        return cached

    def _decode(self, data: bytes) -> Cached:
        if not data.startswith(MAGIC) or len(data) < len(MAGIC) + _MAC_BYTES:
            raise CacheProblem("it is not a tenant cache file")
        mac = data[len(MAGIC):len(MAGIC) + _MAC_BYTES]
        payload = memoryview(data)[len(MAGIC) + _MAC_BYTES:]
        if not self._key.verify_bytes(_PURPOSE, self.code.encode(), payload, mac):
            raise CacheProblem("its authentication code does not match (written under "
                               "another server.key, or changed since)")
        content = _Unpickler(io.BytesIO(payload)).load()
        if not (isinstance(content, tuple) and len(content) == 3 and content[0] == self.code
                and isinstance(content[1], frozenset) and isinstance(content[2], dict)):
            raise CacheProblem("its content is not a tenant cache's")
        entries = content[2]
        for name, entry in entries.items():
            if not (isinstance(name, str) and isinstance(entry, CachedFile)
                    and isinstance(entry.tenant, Tenant)):
                raise CacheProblem("its content is not a tenant cache's")
        return Cached(content[1], entries)

    def _unusable(self, why: str) -> None:
        self.unused = f"the tenant cache was not used: {why}"
        log.warning("%s; every tenant file is validated", self.unused)

    def save(self, snapshot: Snapshot) -> int:
        """Write the entries of every tenant served as its file now reads; the number written.
        Raises OSError when the state directory cannot take the file."""
        entries, payload = self._payload(snapshot)
        self._store(payload)
        return self._saved(entries)

    def save_apart(self, snapshot: Snapshot, *, abort: threading.Event | None = None,
                   timeout: float = CHILD_TIMEOUT) -> int:
        """``save``, its pickling done by a child process forked for it (call it from a
        thread). Pickling 10 000 tenants takes 5 s of CPU and 120 MB at its peak, which the
        server kept (``bench/reload.py``: 285 MB instead of 216): the child does it on the
        other core, on a copy-on-write view of the tenants, and its memory goes with it.

        The child only pickles and writes the bytes to a pipe: a forked child has only the
        forking thread, and a lock another thread held at the fork stays held in it forever
        (OpenSSL's, which hashing and HMAC take: an HMAC in the child hung a server's stop).
        This process authenticates and writes the file. ``abort`` set, or ``timeout`` seconds
        gone, and the child is killed. Raises ``CacheWriteFailed``, or OSError."""
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        if pid == 0:  # the child: it ends with os._exit, whatever happens
            status = 1
            try:
                gc.disable()  # a collection would touch, and so copy, every tenant's pages
                os.close(read_end)
                try:
                    entries, payload = self._payload(snapshot)
                    head = f"ok {entries} {len(payload)}\n".encode()
                    status = 0
                except BaseException as exc:
                    payload, head = b"", f"failed {_reason(exc)}\n".encode()[:_REPLY_BYTES]
                _write_all(write_end, head)
                _write_all(write_end, payload)
            finally:
                os._exit(status)
        os.close(write_end)
        self.child = pid
        try:
            data = _read_all(read_end, pid, abort, timeout)
        finally:
            os.close(read_end)
            os.waitpid(pid, 0)
            self.child = None
        head, _, rest = data.partition(b"\n")
        word, _, detail = head.decode(errors="replace").partition(" ")
        if word == "failed":
            raise CacheWriteFailed(detail)
        if abort is not None and abort.is_set():
            raise CacheWriteFailed("the server is stopping")
        entries_text, _, length = detail.partition(" ")
        if word != "ok" or not entries_text.isdigit() or length != str(len(rest)):
            raise CacheWriteFailed("the process pickling it ended before it was done")
        self._store(rest)
        return self._saved(int(entries_text))

    def _saved(self, entries: int) -> int:
        self.saved_entries = entries
        self.saved_at = time.time()
        self.write_problem = None
        self._remove_stale()
        return entries

    def _payload(self, snapshot: Snapshot) -> tuple[int, bytes]:
        """The entries to keep, pickled: (how many, the bytes)."""
        entries: dict[str, CachedFile] = {}
        for name, status in snapshot.files.items():
            tenant = status.serving
            if tenant is None or status.errors or status.served_hash is None \
                    or not cacheable(tenant):
                continue
            entries[name] = CachedFile(status.served_hash, tenant, status.warnings,
                                       status.issuer_at)
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=5)
        pickler.dispatch_table = _DISPATCH
        pickler.dump((self.code, snapshot.themes, entries))
        return len(entries), buffer.getvalue()

    def _store(self, payload: bytes) -> None:
        """The file, authenticated, renamed into place whole."""
        mac = self._key.mac_bytes(_PURPOSE, self.code.encode(), payload)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.directory / f".{self.path.name}.{os.getpid()}.{os.urandom(4).hex()}"
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(MAGIC)
                file.write(mac)
                file.write(payload)
            os.replace(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)

    def _remove_stale(self) -> None:
        """Other versions' files nobody has written for a day (a rolling update keeps the
        other version's for its replicas still starting)."""
        cutoff = time.time() - _STALE_SECONDS
        try:
            for path in self.directory.glob("tenants-*.bin"):
                if path != self.path and path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
        except OSError:
            pass


async def keep(cache: TenantCache, current: Callable[[], Snapshot], *, save_now: bool,
               interval: float = SAVE_INTERVAL) -> None:
    """Run until cancelled: write the cache now when ``save_now`` (the start validated files
    or left entries unused), then once per ``interval`` when the snapshot changed since."""
    saved = None if save_now else current().generation
    said: str | None = None
    try:
        while True:
            snapshot = current()
            if snapshot.generation != saved:
                abort = threading.Event()
                saving = asyncio.ensure_future(asyncio.to_thread(
                    cache.save_apart, snapshot, abort=abort))
                try:
                    entries = await asyncio.shield(saving)
                except asyncio.CancelledError:
                    # stopping: the thread kills and reaps the child within 0.1 s. Not
                    # waited for here: Sanic's last wait for its tasks cannot run the event
                    # loop, and spins for ever on a task not done yet
                    abort.set()
                    return
                except (OSError, CacheWriteFailed) as exc:
                    problem = f"the tenant cache cannot be written: {_reason(exc)}"
                    cache.write_problem = problem
                    if problem != said:  # once per kind of failure, not every minute
                        log.warning("%s; starts validate every tenant file", problem)
                        said = problem
                else:
                    said = None
                    log.info("tenant cache written: %d tenant(s)", entries)
                saved = snapshot.generation
            await asyncio.sleep(interval)
    except asyncio.CancelledError:
        return


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


def _read_all(descriptor: int, pid: int, abort: threading.Event | None,
              timeout: float) -> bytes:
    """Everything the child writes, until it closes the pipe; the child killed when
    ``abort`` is set or ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    while True:
        stopped = abort is not None and abort.is_set()
        if stopped or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            raise CacheWriteFailed("the server is stopping" if stopped else
                                   f"pickling it took longer than {timeout:g} s; the "
                                   "process doing it was stopped")
        readable, _, _ = select.select([descriptor], [], [], 0.1)
        if readable:
            chunk = os.read(descriptor, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, CacheWriteFailed):
        return str(exc)
    return type(exc).__name__
