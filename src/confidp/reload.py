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
from confidp.reload_plan import Entry, Plan, Settling, Signature, plan, siblings
from confidp.tenant_cache import Cached

log = logging.getLogger("confidp.reload")

EventKind = Literal["added", "changed", "removed", "rejected"]
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
    """Builds snapshots from the directories: ``confidp.reload_plan.plan`` decides from stat
    signatures what to read, this executes it. Not thread-safe: one caller at a time (the
    initial load, then the watcher task)."""

    def __init__(self, tenants_dir: Path, themes_dir: Path | None,
                 environ: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = system_clock,
                 settle: float = SETTLE_SECONDS) -> None:
        self.tenants_dir = tenants_dir
        self.themes_dir = themes_dir
        self._root = os.path.abspath(tenants_dir)
        self._environ = os.environ if environ is None else environ
        self._clock = clock  # wall clock: load times, and the age of a file's mtime
        self._settle = settle
        self._present: dict[str, Entry] = {}  # every tenant-file name, as last stat'ed
        self._links: set[str] = set()  # other names in the directory: links, directories
        self._signatures: dict[str, Signature] = {}  # of the version last read, by file name
        self._unsettled: dict[str, Settling] = {}  # seen changing, and since when
        self._wake_at: float | None = None
        self._generation = 0
        self._cached: Cached | None = None  # during a first load only
        self._first = False  # a first load is under way
        # of the last first load: files served from the tenant cache, files validated, and
        # whether the cache was set aside for having been checked against other theme names
        self.from_cache = 0
        self.validated = 0
        self.cache_themes_differ = False

    def settle_delay(self) -> float | None:
        """Seconds until a file the last load left unread (written in place, not yet quiet)
        will have been quiet long enough to be read; None when no file is waiting."""
        if self._wake_at is None:
            return None
        return max(0.0, self._wake_at - self._clock())

    def load(self, previous: Snapshot | None = None,
             changed: Iterable[str] | None = None,
             cached: Cached | None = None) -> tuple[Snapshot | None, list[ReloadEvent]]:
        """Rescan. Returns (new snapshot, events), or (None, []) when nothing changed.
        ``changed``: the paths a file-system event named; when they are all tenant files of
        the directory, only those are looked at (None: everything is). ``cached``: on a first
        load (``previous`` None), the tenant cache (``confidp.tenant_cache``): a file whose
        bytes are those of its entry is served from the entry instead of being validated,
        when the entries were checked against the same theme names."""
        # Everything a load builds lives until the next reload; collecting while building
        # only rescans it (15% of a 1000-tenant start). Cycles are collected afterwards.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        self._first = previous is None
        if self._first:
            self._cached, self.from_cache, self.validated = cached, 0, 0
            self.cache_themes_differ = False
        try:
            return self._load(previous, changed)
        finally:
            self._cached, self._first = None, False
            if gc_was_enabled:
                gc.enable()

    def _load(self, previous: Snapshot | None,
              changed: Iterable[str] | None) -> tuple[Snapshot | None, list[ReloadEvent]]:
        candidates = None if previous is None or changed is None else self._candidates(changed)
        if candidates is None:
            themes, themes_version = _themes(self.themes_dir)
            self._present = self._tenant_files()
        else:
            assert previous is not None
            themes, themes_version = previous.themes, previous.themes_version
            candidates.update(self._unsettled)  # a file still settling is looked at again
            for name in [*candidates]:
                candidates.update(siblings(name))
            for name in candidates:
                self._stat(name)
        themes_changed = previous is None or themes != previous.themes
        if self._cached is not None and self._cached.themes != themes:
            self._cached = None  # checked against other themes: a theme may have gone
            self.cache_themes_differ = True
        now = self._clock()
        old_files: Mapping[str, FileStatus] = previous.files if previous else {}
        decided = plan(self._present, candidates=candidates, known=old_files,
                       read=self._signatures, settling=self._unsettled,
                       now=None if previous is None else now, settle=self._settle,
                       force=themes_changed)
        self._apply(decided)
        fresh: dict[str, tuple[str, FileResult]] = {}  # by tenant id: (file name, outcome)
        for name in decided.read:
            result = self._read(name, old_files.get(name), themes, force=themes_changed)
            if result is not None:
                fresh[result.tenant_id] = (name, result)
        for name, problem in decided.unreadable.items():
            result = self._unreadable(name, problem, old_files.get(name))
            if result is not None:
                fresh[result.tenant_id] = (name, result)
        changes: dict[str, FileStatus | None] = {}
        events: list[ReloadEvent] = []
        for name, owner in decided.duplicates.items():
            status, event = self._duplicate(name, tenant_id_of(name), owner, now,
                                            old_files.get(name))
            if event is not None:
                changes[name] = status
                events.append(event)
        if fresh:
            gone = {*decided.removed, *decided.duplicates}
            self._settle_issuers(fresh, old_files, previous, gone)
        for name, result in sorted(fresh.values(), key=lambda item: item[0]):
            changes[name], event = self._outcome(name, old_files.get(name), result, now)
            events.append(event)
        for name in decided.removed:
            old = old_files[name]
            changes[name] = None
            if old.serving is not None or old.errors:
                events.append(ReloadEvent("removed", name, old.tenant_id,
                                          "the file was deleted; the tenant is no longer served"
                                          if old.serving else "the rejected file was deleted"))
        if previous is not None and not events and not changes \
                and themes_version == previous.themes_version:
            return None, []
        self._generation += 1
        if previous is None:
            files = {name: status for name, status in sorted(changes.items())
                     if status is not None}
            return Snapshot(self._generation, files, themes, themes_version, now), events
        return previous.evolve(self._generation, changes, themes, themes_version, now), events

    def _candidates(self, changed: Iterable[str]) -> set[str] | None:
        """The tenant-file names an event touched, or None when it may have touched more
        (anything outside the directory itself, a link or a directory in it): rescan all."""
        names: set[str] = set()
        for path in changed:
            parent, name = os.path.split(os.path.abspath(path))
            if parent != self._root:
                return None
            if is_tenant_file_name(name):
                names.add(name)
                continue
            if name in self._links or os.path.islink(path) or os.path.isdir(path):
                return None  # a ConfigMap ..data swap, a git-sync worktree
        return names

    def _stat(self, name: str) -> None:
        """Refresh one name of ``_present`` (gone: removed from it)."""
        path = os.path.join(self._root, name)
        try:
            st = os.stat(path)  # follows symlinks (ConfigMap's ..data links)
        except FileNotFoundError:
            if not os.path.lexists(path):
                self._present.pop(name, None)
                return
            self._present[name] = stat_problem(Path(path), FileNotFoundError(2, "dangling"))
            return
        except OSError as exc:
            self._present[name] = stat_problem(Path(path), exc)
            return
        problem = stat_result_problem(st)
        self._present[name] = problem or (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def _apply(self, decided: Plan) -> None:
        for name in decided.forget:
            self._signatures.pop(name, None)
        for name, seen in decided.settling.items():
            if seen is None:
                self._unsettled.pop(name, None)
            else:
                self._unsettled[name] = seen
        self._wake_at = decided.wake_at

    def _tenant_files(self) -> dict[str, Entry]:
        """The tenant-file names in the directory, each with its stat signature or the reason
        it is not read, in one pass and without opening anything."""
        found: dict[str, Entry] = {}
        links: set[str] = set()
        try:
            entries = list(os.scandir(self.tenants_dir))
        except OSError as exc:
            log.error("cannot list the tenants directory: %s", exc.strerror or exc.errno)
            return found
        for entry in entries:
            if not is_tenant_file_name(entry.name):
                try:
                    if entry.is_symlink() or entry.is_dir(follow_symlinks=False):
                        links.add(entry.name)
                except OSError:
                    links.add(entry.name)
                continue
            try:
                st = entry.stat()  # follows symlinks (ConfigMap's ..data links)
            except OSError as exc:
                found[entry.name] = stat_problem(Path(entry.path), exc)
                continue
            problem = stat_result_problem(st)
            found[entry.name] = problem or (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        self._links = links
        return found

    def _read(self, name: str, old: FileStatus | None, themes: frozenset[str],
              force: bool) -> FileResult | None:
        """The new outcome of a file the plan says to read, or None when its bytes are those
        last evaluated (touched, or swapped to identical bytes)."""
        entry = self._present[name]
        assert not isinstance(entry, str)
        try:
            raw = read_tenant_file(self.tenants_dir / name)
        except UnreadableFile as exc:  # changed since the scan
            return self._unreadable(name, exc.message, old)
        self._signatures[name] = entry
        digest = content_hash(raw)
        last_evaluated = (old.rejected_hash if old.errors else old.served_hash) if old else None
        if not force and digest == last_evaluated:
            return None
        if self._first:
            hit = self._cached.entries.get(name) if self._cached is not None else None
            if hit is not None and hit.content_hash == digest:
                self.from_cache += 1
                return FileResult(tenant_id_of(name), name, digest,
                                  warnings=list(hit.warnings), tenant=hit.tenant,
                                  issuer_at=hit.issuer_at)
            self.validated += 1
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

    @staticmethod
    def _settle_issuers(fresh: Mapping[str, tuple[str, FileResult]],
                        old_files: Mapping[str, FileStatus], previous: Snapshot | None,
                        gone: set[str]) -> None:
        """The cross-file rule over the fresh files and only the tenants they could meet:
        those served now on the routes the fresh versions (or their last good ones) claim."""
        results = {tenant_id: result for tenant_id, (_, result) in fresh.items()}
        last_good: dict[str, Tenant] = {}
        for tenant_id, (name, _) in fresh.items():
            old = old_files.get(name)
            if old is not None and old.serving is not None:
                last_good[tenant_id] = old.serving
        unchanged: dict[str, Tenant] = {}
        if previous is not None:
            claims = [r.tenant for r in results.values() if r.tenant is not None]
            for tenant in [*claims, *last_good.values()]:
                other = previous.routes.get(tenant.issuer_host, {}).get(tenant.issuer_path)
                if other is not None and other.id not in results and other.source not in gone:
                    unchanged[other.id] = other
        settle_issuers(results, unchanged, last_good)

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
                                warnings=tuple(result.warnings), issuer_at=result.issuer_at)
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
# how often the watcher also looks at every file, events or not: inotify drops events when
# its queue overflows (IN_Q_OVERFLOW) and never sees a write made through a hard link from
# another directory; a full rescan costs about 20 ms per 1 000 tenants (bench/reload_cost.py)
FULL_RESCAN_SECONDS = 60.0
Publish = Callable[[Snapshot | None, list[ReloadEvent], float], None]


async def watch(reloader: Reloader, current: Callable[[], Snapshot], publish: Publish, *,
                poll: bool = False, poll_delay_ms: int = 250,
                on_watching: Callable[[], None] = lambda: None,
                full_rescan_seconds: float = FULL_RESCAN_SECONDS) -> None:
    """Run until cancelled: on every change under the watched directories, rescan and publish.
    Never raises out: a failing scan is logged and the next event tries again.

    Changes made between the initial load and the moment the watch is in place would be lost,
    so the first (empty) timeout yield, which comes only once the watch exists, triggers one
    rescan and then ``on_watching`` (readiness waits for it). Every ``full_rescan_seconds``
    a rescan looks at every file: the safety net for events the kernel never delivered."""
    if poll:
        await _poll(reloader, current, publish, poll_delay_ms / 1000, on_watching)
        return
    roots = watch_roots((reloader.tenants_dir, *themes.watched_dirs(reloader.themes_dir)))
    log.info("watching %s (%d directories)", _watched(reloader), len(roots))
    watching = False
    next_full = 0.0
    while True:
        try:
            async for changes in awatch(*roots, watch_filter=None, debounce=400, step=20,
                                        rust_timeout=_WATCH_TIMEOUT_MS, yield_on_timeout=True,
                                        ignore_permission_denied=True, recursive=True):
                if not watching or time.monotonic() >= next_full:
                    await rescan(reloader, current, publish)
                    await _settle(reloader, current, publish)
                    next_full = time.monotonic() + full_rescan_seconds
                elif changes:
                    await rescan(reloader, current, publish, [path for _, path in changes])
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


async def rescan(reloader: Reloader, current: Callable[[], Snapshot], publish: Publish,
                 changed: Iterable[str] | None = None) -> None:
    """One reload; ``changed``: the paths an event named (None: look at everything)."""
    started = time.perf_counter()
    try:
        snapshot, events = await asyncio.to_thread(reloader.load, current(), changed)
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
        await rescan(reloader, current, publish, ())


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
