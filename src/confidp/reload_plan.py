"""What one reload must do, decided from stat signatures alone.

``plan`` is a pure function: from the names present in the tenants directory (each with its
stat signature, or the reason it is not a regular file), the signatures of the versions last
read, the files seen changing in place and the time, it decides which files to read, which to
report as unreadable or as a second file for a tenant id, which were removed, and when to look
again at a file still being written. ``confidp.reload.Reloader`` executes the plan (reads,
validates, builds the snapshot). It looks only at ``candidates`` when it is given them (the
names a file-system event touched), so the cost of an edit does not grow with the number of
tenant files.

Rules (they are the reload contract in the README):
- a name whose signature equals the one last read is not read again (unless ``force``: the
  themes changed, every tenant is re-validated);
- a new file under a name (another device or inode: renamed over it, a swapped symlink) is
  read at once; a file written in place is read once it has been quiet for ``settle`` seconds,
  by its mtime or, when the mtime is in the future, by how long it was seen unchanged;
- on the first load (``now`` is None) everything is read at once;
- the first name in sorted order owns a tenant id (``acme.yaml`` before ``acme.yml``); a second
  file for the id is never read and is reported.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from confidp.config.loader import TENANT_SUFFIXES, is_tenant_file_name, tenant_id_of

Signature = tuple[int, int, int, int]  # device, inode, size, mtime in ns
Entry = Signature | str  # a regular file's signature, or why the name is not read
Settling = tuple[Signature, float]  # a signature seen changing in place, and since when
def siblings(name: str) -> list[str]:
    """Every tenant-file name giving the same tenant id as ``name`` (``name`` included)."""
    tenant_id = tenant_id_of(name)
    return [tenant_id + suffix for suffix in TENANT_SUFFIXES]


@dataclass(frozen=True, slots=True)
class Plan:
    read: tuple[str, ...] = ()  # read and validate these, in this order
    unreadable: Mapping[str, str] = field(default_factory=dict)  # name -> why
    duplicates: Mapping[str, str] = field(default_factory=dict)  # name -> the owner's name
    removed: tuple[str, ...] = ()  # served or reported before, gone now
    forget: tuple[str, ...] = ()  # drop the signature last read (re-read when seen again)
    settling: Mapping[str, Settling | None] = field(default_factory=dict)  # None: done
    wake_at: float | None = None  # look again then: a file written in place is still settling
    names: tuple[str, ...] = ()  # every name the plan decided about (sorted)

    @property
    def empty(self) -> bool:
        return not (self.read or self.unreadable or self.duplicates or self.removed)


def plan(present: Mapping[str, Entry], *, candidates: Iterable[str] | None,
         known: Collection[str], read: Mapping[str, Signature],
         settling: Mapping[str, Settling], now: float | None, settle: float,
         force: bool = False) -> Plan:
    """Decide one reload. ``present``: every tenant-file name in the directory now.
    ``candidates``: the names that may have changed since the last plan (None: any name).
    ``known``: the names the current snapshot has a status for. ``read``: the signature of the
    version last read, by name. ``settling``: files seen changing in place. ``now``: the wall
    clock, None on the first load."""
    if candidates is None or force:
        names = sorted(set(present) | set(known))
    else:
        wanted: set[str] = set()
        for name in candidates:
            wanted.update(siblings(name) if is_tenant_file_name(name) else ())
        wanted.update(settling)  # a file still settling is looked at again
        names = sorted(wanted)
    to_read: list[str] = []
    unreadable: dict[str, str] = {}
    duplicates: dict[str, str] = {}
    removed: list[str] = []
    forget: list[str] = []
    settled: dict[str, Settling | None] = {}
    wake_at: float | None = None
    for name in names:
        entry = present.get(name)
        if entry is None:
            if name in known:
                removed.append(name)
            if name in read:
                forget.append(name)
            if name in settling:
                settled[name] = None
            continue
        owner = next(s for s in siblings(name) if s in present)
        if owner != name:
            duplicates[name] = owner
            if name in read:
                forget.append(name)
            if name in settling:
                settled[name] = None
            continue
        if isinstance(entry, str):
            unreadable[name] = entry
            if name in read:
                forget.append(name)
            if name in settling:
                settled[name] = None
            continue
        last_read = read.get(name)
        if entry == last_read and not force:
            if name in settling:
                settled[name] = None
            continue
        if now is None or settle <= 0 or entry == last_read \
                or (last_read is not None and last_read[:2] != entry[:2]):
            to_read.append(name)  # first load, re-validation, or a new file under the name
            if name in settling:
                settled[name] = None
            continue
        seen = settling.get(name)
        if seen is None or seen[0] != entry:
            seen = (entry, now)
        quiet_for = max(now - entry[3] / 1e9, now - seen[1])
        if quiet_for >= settle or now < seen[1]:
            to_read.append(name)
            if name in settling:
                settled[name] = None
            continue
        if settling.get(name) != seen:
            settled[name] = seen
        wake = now + settle - quiet_for
        wake_at = wake if wake_at is None else min(wake_at, wake)
    return Plan(tuple(to_read), unreadable, duplicates, tuple(removed), tuple(forget), settled,
                wake_at, tuple(names))
