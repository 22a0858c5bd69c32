"""The reload plan: which files a reload reads, decided from stat signatures alone (pure)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from confidp.reload_plan import Entry, Plan, Settling, Signature, plan

NOW = 1_000_000.0
SETTLE = 0.1


def sig(inode: int, size: int = 10, mtime: float = NOW - 60, dev: int = 1) -> Signature:
    return (dev, inode, size, int(mtime * 1e9))


def decide(present: Mapping[str, Entry], *, read: Mapping[str, Signature] | None = None,
           known: Collection[str] = (), candidates: Iterable[str] | None = None,
           settling: Mapping[str, Settling] | None = None, now: float | None = NOW,
           force: bool = False) -> Plan:
    return plan(present, candidates=candidates, known=known, read=read or {},
                settling=settling or {}, now=now, settle=SETTLE, force=force)


def test_first_load_reads_everything_at_once() -> None:
    fresh = sig(1, mtime=NOW)  # written a moment ago: would wait after the start
    decided = decide({"b.yaml": sig(2), "a.yaml": fresh}, now=None)
    assert decided.read == ("a.yaml", "b.yaml")
    assert decided.wake_at is None


def test_unchanged_signatures_read_nothing() -> None:
    present = {"a.yaml": sig(1), "b.yaml": sig(2)}
    decided = decide(present, read=present, known=present)
    assert decided.empty
    assert decided.read == ()


def test_themes_changed_rereads_every_file() -> None:
    present = {"a.yaml": sig(1), "b.yaml": sig(2)}
    decided = decide(present, read=present, known=present, candidates=(), force=True)
    assert decided.read == ("a.yaml", "b.yaml")


def test_a_file_renamed_over_is_read_at_once() -> None:
    decided = decide({"a.yaml": sig(2, mtime=NOW)}, read={"a.yaml": sig(1)}, known={"a.yaml"})
    assert decided.read == ("a.yaml",)


def test_a_file_written_in_place_waits_until_quiet() -> None:
    written = sig(1, size=20, mtime=NOW - 0.03)
    decided = decide({"a.yaml": written}, read={"a.yaml": sig(1)}, known={"a.yaml"})
    assert decided.read == ()
    assert decided.settling == {"a.yaml": (written, NOW)}
    assert decided.wake_at is not None and abs(decided.wake_at - (NOW + 0.07)) < 1e-6
    later = decide({"a.yaml": written}, read={"a.yaml": sig(1)}, known={"a.yaml"},
                   settling=decided.settling, now=NOW + 0.08)  # type: ignore[arg-type]
    assert later.read == ("a.yaml",)
    assert later.settling == {"a.yaml": None}


def test_a_file_dated_in_the_future_waits_for_the_time_seen_unchanged() -> None:
    future = sig(1, size=20, mtime=NOW + 3600)
    first = decide({"a.yaml": future}, read={"a.yaml": sig(1)}, known={"a.yaml"})
    assert first.read == ()
    second = decide({"a.yaml": future}, read={"a.yaml": sig(1)}, known={"a.yaml"},
                    settling={"a.yaml": (future, NOW)}, now=NOW + 2 * SETTLE)
    assert second.read == ("a.yaml",)


def test_a_new_file_waits_after_the_start() -> None:
    decided = decide({"a.yaml": sig(1, mtime=NOW - 0.01)})
    assert decided.read == ()
    assert decided.wake_at is not None


def test_removed_files_are_reported_and_forgotten() -> None:
    decided = decide({}, read={"a.yaml": sig(1)}, known={"a.yaml"})
    assert decided.removed == ("a.yaml",)
    assert decided.forget == ("a.yaml",)


def test_the_first_sorted_name_owns_a_tenant_id() -> None:
    decided = decide({"acme.yml": sig(1), "acme.yaml": sig(2)}, now=None)
    assert decided.read == ("acme.yaml",)
    assert decided.duplicates == {"acme.yml": "acme.yaml"}


def test_removing_the_owner_makes_the_second_file_the_owner() -> None:
    """An event names only acme.yaml; its sibling acme.yml is decided about too."""
    decided = decide({"acme.yml": sig(1)}, read={"acme.yaml": sig(2)},
                     known={"acme.yaml", "acme.yml"}, candidates={"acme.yaml"})
    assert decided.removed == ("acme.yaml",)
    assert decided.read == ("acme.yml",)  # quiet for a minute: read at once
    assert decided.duplicates == {}


def test_a_name_that_is_not_a_regular_file_is_unreadable() -> None:
    decided = decide({"a.yaml": "is a named pipe"}, read={"a.yaml": sig(1)}, known={"a.yaml"})
    assert decided.unreadable == {"a.yaml": "is a named pipe"}
    assert decided.forget == ("a.yaml",)


def test_only_the_candidates_and_their_siblings_are_looked_at() -> None:
    """An event touching one file: the other 10 000 are not even compared."""
    present: dict[str, Entry] = {f"t{i}.yaml": sig(i) for i in range(10_000)}
    read = dict(present)
    present["t5.yaml"] = sig(99_999)  # renamed over
    present["t7.yaml"] = sig(88_888)  # changed too, but no event named it (yet)
    decided = decide(present, read=read, known=present, candidates=["t5.yaml"])
    assert decided.read == ("t5.yaml",)
    assert decided.names == ("t5.yaml", "t5.yml")


def test_names_settling_are_looked_at_again_without_an_event() -> None:
    written = sig(1, size=20, mtime=NOW - 0.2)
    decided = decide({"a.yaml": written}, read={"a.yaml": sig(1)}, known={"a.yaml"},
                     candidates=(), settling={"a.yaml": (written, NOW - 0.2)})
    assert decided.read == ("a.yaml",)


def test_names_that_are_not_tenant_files_are_ignored() -> None:
    decided = decide({"a.yaml": sig(1)}, read={"a.yaml": sig(1)}, known={"a.yaml"},
                     candidates={".a.yaml.tmp", "notes.txt"})
    assert decided.names == ()
    assert decided.empty
