"""Hot reload: the tenants and themes directories -> a new ``Snapshot``, re-reading only what
changed, and the watcher task that runs it on every file-system event.

A file is re-read only when its stat signature (device, inode, size, mtime, following symlinks)
changed, and re-validated only when its bytes changed. That covers in-place writes, editors and
git replacing files by rename (new inode), and Kubernetes ConfigMap / git-sync updates, which
swap a ``..data`` or worktree symlink so the file names stay but resolve to new files. Any event
triggers a rescan, because those swaps report events on names other than the tenant files.

A file written in place is read only once it has been quiet for ``SETTLE_SECONDS`` (by its
mtime, or by what the reloader saw), so a slow writer's half-written file is never loaded; a
file renamed over the old one (a new inode) is complete and read at once. A tenant-file name
that is not a regular file (a pipe, a device, a directory, a dangling or looping link) is never
opened and is reported once as a rejected file. Files are named relative to the tenants
directory in every message: a log line never shows the server's absolute paths.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from watchfiles import awatch

from confidp import themes
from confidp.clock import system_clock
from confidp.config.errors import ConfigError
from confidp.config.loader import (
    FileResult,
    content_hash,
    duplicate_id_problem,
    is_tenant_file_name,
    settle_issuers,
    tenant_id_of,
    unreadable,
    validate_file,
)
from confidp.config.reading import (
    UnreadableFile,
    read_tenant_file,
    stat_problem,
    stat_result_problem,
)
from confidp.diff import describe_change
from confidp.model import Tenant
from confidp.registry import FileStatus, Snapshot

log = logging.getLogger("confidp.reload")

EventKind = Literal["added", "changed", "removed", "rejected"]
Signature = tuple[int, int, int, int]  # device, inode, size, mtime in ns
Entry = Signature | str  # a regular file's signature, or why the name is not read
SETTLE_SECONDS = 0.1  # how long a file written in place must be quiet before it is read


@dataclass(frozen=True, slots=True)
class ReloadEvent:
    kind: EventKind
    source: str
    tenant_id: str
    detail: str

    def __str__(self) -> str:
        return f"tenant {self.tenant_id} ({self.source}) {self.kind}: {self.detail}"


def theme_names(themes_dir: Path | None) -> frozenset[str]:
    return _themes(themes_dir)[0]


def _themes(themes_dir: Path | None) -> tuple[frozenset[str], str]:
    """The theme names, and a version that changes whenever any file of any theme changes."""
    return themes.scan(themes_dir)


class Reloader:
    """Builds snapshots from the directories. Not thread-safe: one caller at a time (the
    initial load, then the watcher task)."""

    def __init__(self, tenants_dir: Path, themes_dir: Path | None,
                 environ: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = system_clock,
                 settle: float = SETTLE_SECONDS) -> None:
        self.tenants_dir = tenants_dir
        self.themes_dir = themes_dir
        self._environ = os.environ if environ is None else environ
        self._clock = clock  # wall clock: load times, and the age of a file's mtime
        self._settle = settle
        self._signatures: dict[str, Signature] = {}  # of the version last read, by file name
        self._unsettled: dict[str, tuple[Signature, float]] = {}  # seen changing, and since when
        self._wake_at: float | None = None
        self._generation = 0

    def settle_delay(self) -> float | None:
        """Seconds until a file the last load left unread (written in place, not yet quiet)
        will have been quiet long enough to be read; None when no file is waiting."""
        if self._wake_at is None:
            return None
        return max(0.0, self._wake_at - self._clock())

    def load(self, previous: Snapshot | None = None) -> tuple[Snapshot | None, list[ReloadEvent]]:
        """Rescan. Returns (new snapshot, events), or (None, []) when nothing changed."""
        # Everything a load builds lives until the next reload; collecting while building
        # only rescans it (15% of a 1000-tenant start). Cycles are collected afterwards.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._load(previous)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _load(self, previous: Snapshot | None) -> tuple[Snapshot | None, list[ReloadEvent]]:
        old_files: Mapping[str, FileStatus] = previous.files if previous else {}
        themes, themes_version = _themes(self.themes_dir)
        themes_changed = previous is None or themes != previous.themes
        now = self._clock()
        self._wake_at = None
        names = self._tenant_files()
        fresh: dict[str, FileResult] = {}  # by tenant id
        fresh_names: dict[str, str] = {}  # tenant id -> file name
        id_owner: dict[str, str] = {}
        duplicates: dict[str, FileStatus] = {}
        events: list[ReloadEvent] = []
        for name in names:
            tenant_id = tenant_id_of(name)
            if tenant_id in id_owner:
                duplicates[name], event = self._duplicate(
                    name, tenant_id, id_owner[tenant_id], now, old_files.get(name))
                if event is not None:
                    events.append(event)
                continue
            id_owner[tenant_id] = name
            result = self._read_if_changed(name, names[name], old_files.get(name), themes,
                                           themes_changed, None if previous is None else now)
            if result is not None:
                fresh[tenant_id] = result
                fresh_names[tenant_id] = name
        removed = [name for name in old_files if name not in names]
        for name in removed:
            self._signatures.pop(name, None)
        for name in [name for name in self._unsettled if name not in names]:
            del self._unsettled[name]
        if not fresh and not removed and not duplicates and previous is not None \
                and themes_version == previous.themes_version:
            return None, []
        unchanged = {status.tenant_id: status.serving for name, status in old_files.items()
                     if name in names and status.tenant_id not in fresh
                     and status.serving is not None and name not in duplicates}
        last_good = {tenant_id: old_files[name].serving
                     for tenant_id, name in fresh_names.items()
                     if name in old_files and old_files[name].serving is not None}
        settle_issuers(fresh, unchanged, last_good)  # type: ignore[arg-type]
        files: dict[str, FileStatus] = {name: status for name, status in old_files.items()
                                        if name in names and name not in duplicates}
        for tenant_id, result in fresh.items():
            name = fresh_names[tenant_id]
            files[name], event = self._outcome(name, old_files.get(name), result, now)
            events.append(event)
        files.update(duplicates)
        for name in removed:
            old = old_files[name]
            if old.serving is not None or old.errors:
                events.append(ReloadEvent("removed", name, old.tenant_id,
                                          "the file was deleted; the tenant is no longer served"
                                          if old.serving else "the rejected file was deleted"))
        if previous is not None and not events and files == dict(old_files) \
                and themes_version == previous.themes_version:
            return None, []
        self._generation += 1
        ordered = dict(sorted(files.items()))
        return Snapshot(self._generation, ordered, themes, themes_version, now), events

    def _tenant_files(self) -> dict[str, Entry]:
        """The tenant-file names in the directory, each with its stat signature or the reason
        it is not read, in one pass and without opening anything."""
        found: dict[str, Entry] = {}
        try:
            entries = list(os.scandir(self.tenants_dir))
        except OSError as exc:
            log.error("cannot list the tenants directory: %s", exc.strerror or exc.errno)
            return found
        for entry in entries:
            if not is_tenant_file_name(entry.name):
                continue
            try:
                st = entry.stat()  # follows symlinks (ConfigMap's ..data links)
            except OSError as exc:
                found[entry.name] = stat_problem(Path(entry.path), exc)
                continue
            problem = stat_result_problem(st)
            found[entry.name] = problem or (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        return dict(sorted(found.items()))

    def _read_if_changed(self, name: str, entry: Entry, old: FileStatus | None,
                         themes: frozenset[str], force: bool,
                         now: float | None) -> FileResult | None:
        """The new outcome of a file, or None when there is nothing new to say. ``now`` is
        None on the first load, which reads every file without waiting for it to settle."""
        if isinstance(entry, str):
            return self._unreadable(name, entry, old)
        if not force and old is not None and entry == self._signatures.get(name):
            return None
        if now is not None and not self._quiet(name, entry, now):
            return None
        try:
            raw = read_tenant_file(self.tenants_dir / name)
        except UnreadableFile as exc:  # changed since the scan
            return self._unreadable(name, exc.message, old)
        self._signatures[name] = entry
        digest = content_hash(raw)
        last_evaluated = (old.rejected_hash if old.errors else old.served_hash) if old else None
        if not force and digest == last_evaluated:
            return None  # touched, or swapped to identical bytes: nothing to do
        return validate_file(name, raw, themes=themes, environ=self._environ,
                             base_dir=self.tenants_dir)

    def _unreadable(self, name: str, problem: str, old: FileStatus | None) -> FileResult | None:
        """A name that is not a regular file (or not readable): rejected, and said once."""
        self._signatures.pop(name, None)
        self._unsettled.pop(name, None)
        result = unreadable(name, problem)
        if old is not None and old.errors == tuple(result.errors):
            return None
        return result

    def _quiet(self, name: str, signature: Signature, now: float) -> bool:
        """Whether a changed file may be read now: a new file under the name (renamed over
        it, or a swapped symlink) at once; a file written in place once nothing has changed it
        for the settle time, going by its mtime or, when the mtime cannot be trusted (in the
        future), by how long this reloader has seen it unchanged."""
        last_read = self._signatures.get(name)
        if self._settle <= 0 or signature == last_read:
            return True  # (unchanged and read again: the themes changed)
        if last_read is not None and last_read[:2] != signature[:2]:
            return True
        seen = self._unsettled.get(name)
        if seen is None or seen[0] != signature:
            seen = self._unsettled[name] = (signature, now)
        quiet_for = max(now - signature[3] / 1e9, now - seen[1])
        if quiet_for >= self._settle or now < seen[1]:
            del self._unsettled[name]
            return True
        wake_at = now + self._settle - quiet_for
        self._wake_at = wake_at if self._wake_at is None else min(self._wake_at, wake_at)
        return False

    def _duplicate(self, name: str, tenant_id: str, owner: str, now: float,
                   old: FileStatus | None) -> tuple[FileStatus, ReloadEvent | None]:
        """A second file giving a tenant id already taken: never served; reported once."""
        error = ConfigError(name, 1, 1, "$", duplicate_id_problem(tenant_id, owner))
        if old is not None and old.errors == (error,):
            return old, None
        return (FileStatus(name, tenant_id, None, None, None, (error,), None, now),
                ReloadEvent("rejected", name, tenant_id, f"not served; {error}"))

    def _outcome(self, name: str, old: FileStatus | None, result: FileResult,
                 now: float) -> tuple[FileStatus, ReloadEvent]:
        tenant_id = result.tenant_id
        if result.tenant is not None:
            status = FileStatus(name, tenant_id, result.tenant, result.content_hash, now,
                                warnings=tuple(result.warnings))
            for warning in result.warnings:
                log.warning("tenant %s (%s): %s", tenant_id, name, warning)
            if old is None or old.serving is None:
                detail = _summary(result.tenant)
                return status, ReloadEvent("added", name, tenant_id, detail)
            return status, ReloadEvent("changed", name, tenant_id,
                                       describe_change(old.serving, result.tenant))
        errors = tuple(result.errors)
        rejected_hash = result.content_hash or None  # None: the name was not a readable file
        if old is not None and old.serving is not None:
            status = replace(old, errors=errors, rejected_hash=rejected_hash, rejected_at=now)
            kept = (f"still serving the version loaded at {_clock_text(old.loaded_at)} "
                    f"({(old.served_hash or '')[:19]})")
        else:
            status = FileStatus(name, tenant_id, None, None, None, errors, rejected_hash, now)
            kept = "not served"
        detail = f"{kept}; {len(errors)} error(s): " + " | ".join(str(e) for e in errors)
        return status, ReloadEvent("rejected", name, tenant_id, detail)


def _summary(tenant: Tenant) -> str:
    return (f"issuer {tenant.issuer}, {len(tenant.applications)} application(s), "
            f"{len(tenant.users)} user(s)")


def _clock_text(moment: float | None) -> str:
    if moment is None:
        return "?"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def watch_roots(directories: Iterable[Path]) -> list[Path]:
    """The directories to watch: each given one, plus the directory holding any symlink on its
    path, so that a swapped symlink (git-sync's worktree link) is seen too."""
    roots: set[Path] = set()
    for directory in directories:
        absolute = Path(os.path.abspath(directory))
        roots.add(absolute)
        probe = Path(absolute.anchor)
        for part in absolute.parts[1:]:
            probe = probe / part
            if probe.is_symlink():
                roots.add(probe.parent)
    ordered = sorted(roots, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for root in ordered:
        if not any(root.is_relative_to(k) and not _has_symlink_below(k, root) for k in kept):
            kept.append(root)
    return kept


def _has_symlink_below(top: Path, path: Path) -> bool:
    probe = top
    for part in path.relative_to(top).parts:
        probe = probe / part
        if probe.is_symlink():
            return True
    return False


_WATCH_TIMEOUT_MS = 100
Publish = Callable[[Snapshot | None, list[ReloadEvent], float], None]


async def watch(reloader: Reloader, current: Callable[[], Snapshot], publish: Publish, *,
                poll: bool = False, poll_delay_ms: int = 250,
                on_watching: Callable[[], None] = lambda: None) -> None:
    """Run until cancelled: on every change under the watched directories, rescan and publish.
    Never raises out: a failing scan is logged and the next event tries again.

    Changes made between the initial load and the moment the watch is in place would be lost,
    so the first (empty) timeout yield, which comes only once the watch exists, triggers one
    rescan and then ``on_watching`` (readiness waits for it)."""
    if poll:
        await _poll(reloader, current, publish, poll_delay_ms / 1000, on_watching)
        return
    roots = watch_roots((reloader.tenants_dir, *themes.watched_dirs(reloader.themes_dir)))
    log.info("watching %s (%d directories)", _watched(reloader), len(roots))
    watching = False
    while True:
        try:
            async for changes in awatch(*roots, watch_filter=None, debounce=400, step=20,
                                        rust_timeout=_WATCH_TIMEOUT_MS, yield_on_timeout=True,
                                        ignore_permission_denied=True, recursive=True):
                if changes or not watching:
                    await rescan(reloader, current, publish)
                    await _settle(reloader, current, publish)
                if not watching:
                    watching = True
                    on_watching()
        except asyncio.CancelledError:
            return
        except Exception as exc:
            _log_failure("the file watcher failed; restarting it in 1 s", exc)
            watching = False
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                return


async def _poll(reloader: Reloader, current: Callable[[], Snapshot], publish: Publish,
                interval: float, on_watching: Callable[[], None]) -> None:
    """For file systems without inotify. The reloader itself is the poller: its stat signature
    has nanosecond mtimes, inode and size, where notify's poll watcher compares whole seconds
    and misses a second write within the same second."""
    log.info("polling %s every %.2f s", _watched(reloader), interval)
    try:
        await rescan(reloader, current, publish)
        on_watching()
        while True:
            await asyncio.sleep(interval)
            await rescan(reloader, current, publish)
    except asyncio.CancelledError:
        return


async def rescan(reloader: Reloader, current: Callable[[], Snapshot], publish: Publish) -> None:
    started = time.perf_counter()
    try:
        snapshot, events = await asyncio.to_thread(reloader.load, current())
    except Exception as exc:
        _log_failure("reloading tenants failed; still serving the previous snapshot", exc)
        return
    publish(snapshot, events, time.perf_counter() - started)


async def _settle(reloader: Reloader, current: Callable[[], Snapshot],
                  publish: Publish) -> None:
    """Files being written in place were left unread by the rescan: rescan again when the
    first of them has been quiet for the settle time, until none is waiting."""
    while (delay := reloader.settle_delay()) is not None:
        await asyncio.sleep(delay)
        await rescan(reloader, current, publish)


def _watched(reloader: Reloader) -> str:
    """What is watched, in words: a log line never shows the server's absolute paths."""
    if reloader.themes_dir is None:
        return "the tenants directory and the built-in default theme"
    return "the tenants directory, the themes directory and the built-in default theme"


def _log_failure(what: str, exc: BaseException) -> None:
    """One line without the traceback, whose frames and messages carry the server's absolute
    paths; the traceback itself at DEBUG."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    log.error("%s: %s", what, reason)
    log.debug("%s", what, exc_info=exc)
