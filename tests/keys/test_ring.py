"""The key store: lazy creation, file mode, races between processes, rotation, retirement."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import jwt as pyjwt
import pytest

from confidp.keys import KeyStore, TokenError
from confidp.keys.ring import PUBLISH_AHEAD_SECONDS
from tests.support import Clock, results_from_processes


def test_first_use_creates_one_key_per_algorithm_mode_0600(tmp_path: Path) -> None:
    ring = KeyStore(tmp_path).ring("acme")
    assert set(ring.signing) == {"RS256", "ES256"}
    files = sorted((tmp_path / "keys" / "acme").glob("*.json"))
    assert [f.name for f in files] == ["initial-ES256.json", "initial-RS256.json"]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "d" in json.loads(path.read_text())  # the private key
    assert all("d" not in key for key in ring.jwks["keys"])  # never published


def _ring_kids(state: str) -> list[str]:
    ring = KeyStore(Path(state)).ring("acme")
    return sorted(str(k.kid) for k in ring.signing.values())


def test_replicas_creating_keys_at_once_end_with_the_same_keys(tmp_path: Path) -> None:
    results = results_from_processes(_ring_kids, str(tmp_path))
    assert len(results) == 4
    assert all(result == results[0] for result in results)
    assert len(list((tmp_path / "keys" / "acme").glob("*.json"))) == 2
    assert not list((tmp_path / "keys" / "acme").glob(".*.tmp"))


def test_rotation_keeps_old_tokens_verifying_until_retired(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    before = store.ring("acme")
    old_token = before.sign({"typ": "JWT"}, {"iss": "x"}, "RS256")
    new_kids = store.rotate("acme", sign_after=0)
    after = store.ring("acme")
    assert {str(k.kid) for k in after.signing.values()} == set(new_kids)
    assert len(after.jwks["keys"]) == 4
    assert after.verify(old_token)[1] == {"iss": "x"}
    new_token = after.sign({"typ": "JWT"}, {"iss": "y"}, "RS256")
    assert pyjwt.get_unverified_header(new_token)["kid"] in new_kids
    assert sorted(store.retire("acme")) == sorted(str(k.kid) for k in before.signing.values())
    retired = store.ring("acme")
    assert len(retired.jwks["keys"]) == 2
    with pytest.raises(TokenError):
        retired.verify(old_token)
    assert retired.verify(new_token)[1] == {"iss": "y"}


def test_tenants_have_their_own_keys(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    token = store.ring("acme").sign({}, {"iss": "acme"}, "ES256")
    with pytest.raises(TokenError):
        store.ring("globex").verify(token)


def test_tampered_or_foreign_tokens_do_not_verify(tmp_path: Path) -> None:
    ring = KeyStore(tmp_path).ring("acme")
    token = ring.sign({}, {"sub": "alice"}, "RS256")
    head, _body, signature = token.split(".")
    forged_body = pyjwt.utils.base64url_encode(b'{"sub":"admin"}').decode()
    for bad in (f"{head}.{forged_body}.{signature}", "not.a.jwt", "",
                pyjwt.encode({"sub": "alice"}, "s" * 64, algorithm="HS256"),
                pyjwt.encode({"sub": "alice"}, None, algorithm="none")):
        with pytest.raises(TokenError):
            ring.verify(bad)


def _kids(ring: object) -> set[str]:
    return {str(key.kid) for key in ring.signing.values()}  # type: ignore[attr-defined]


def test_a_rotated_key_is_published_before_it_signs(tmp_path: Path) -> None:
    """A relying party may cache the JWKS for its max-age (or, like the jose library, fetch
    it again for an unknown key at most every 30 s): a new key must be in every JWKS it may
    still be using before any replica signs with it. Replicas switch at the same moment, from
    the key file, with no change on disk to notice."""
    clock = Clock()
    store, replica = KeyStore(tmp_path, clock=clock), KeyStore(tmp_path, clock=clock)
    old_kids = _kids(store.ring("acme"))
    assert _kids(replica.ring("acme")) == old_kids
    clock.now += 1
    new_kids = store.rotate("acme")
    for ring in (store.ring("acme"), replica.ring("acme"), replica.cached("acme")):
        assert ring is not None
        assert set(new_kids) <= {key["kid"] for key in ring.jwks["keys"]}  # published now
        assert _kids(ring) == old_kids  # but the old keys still sign
        assert set(ring.upcoming) == set(new_kids)
        assert set(ring.upcoming.values()) == {clock.now + PUBLISH_AHEAD_SECONDS}
    token = replica.ring("acme").sign({}, {"iss": "x"}, "RS256")
    assert pyjwt.get_unverified_header(token)["kid"] in old_kids
    clock.now += PUBLISH_AHEAD_SECONDS - 1
    assert _kids(replica.cached("acme") or replica.ring("acme")) == old_kids
    assert store.retire("acme") == []  # neither the signing keys nor the waiting ones
    clock.now += 1
    assert replica.cached("acme") is None  # the cached ring ends when a key's time comes
    for keys in (store, replica):
        ring = keys.ring("acme")
        assert _kids(ring) == set(new_kids) and not ring.upcoming
        assert ring.verify(token)[1] == {"iss": "x"}
    assert sorted(store.retire("acme")) == sorted(old_kids)


def test_a_key_rotated_at_once_signs_at_once(tmp_path: Path) -> None:
    """``keys rotate --sign-after 0s``: a key that must stop signing now is replaced now,
    even while an earlier rotation is still waiting (that key then never signs)."""
    clock = Clock()
    store = KeyStore(tmp_path, clock=clock)
    store.ring("acme")
    clock.now += 1
    waiting = store.rotate("acme")
    clock.now += 1
    urgent = store.rotate("acme", sign_after=0)
    ring = store.ring("acme")
    assert _kids(ring) == set(urgent) and not ring.upcoming
    clock.now += PUBLISH_AHEAD_SECONDS
    assert _kids(store.ring("acme")) == set(urgent)
    assert set(store.retire("acme")) >= set(waiting)


def test_a_key_added_within_one_tick_of_the_file_clock_is_seen(tmp_path: Path) -> None:
    """Replicas notice a rotation by the key directory's modification time, but file times
    can be as coarse as a timer tick (Linux before 6.13 stamps files from a clock that moves
    every few milliseconds; some network file systems keep whole seconds): a key linked into
    the directory just after a replica read it can leave that time unchanged. The replica must
    not keep, for good, a ring without the key that the others publish and sign with."""
    import os

    replica = KeyStore(tmp_path)
    old_kids = _kids(replica.ring("acme"))
    directory = tmp_path / "keys" / "acme"
    before = directory.stat()
    new_kids = KeyStore(tmp_path).rotate("acme", sign_after=0)  # `confidp keys rotate`
    os.utime(directory, ns=(before.st_atime_ns, before.st_mtime_ns))  # within the same tick
    ring = replica.cached("acme") or replica.ring("acme")
    assert set(new_kids) <= {key["kid"] for key in ring.jwks["keys"]}
    assert _kids(ring) == set(new_kids) != old_kids


def test_an_eddsa_key_is_made_when_an_application_first_needs_one_and_rotated_after(
        tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    assert set(store.ring("acme").signing) == {"RS256", "ES256"}  # no EdDSA key unasked
    assert store.cached("acme", frozenset({"EdDSA"})) is None  # the cache does not have it
    ring = store.ring("acme", frozenset({"EdDSA"}))
    assert set(ring.signing) == {"RS256", "ES256", "EdDSA"}
    okp = next(key for key in ring.jwks["keys"] if key["alg"] == "EdDSA")
    assert okp["kty"] == "OKP" and okp["crv"] == "Ed25519" and "d" not in okp
    token = ring.sign({"typ": "JWT"}, {"iss": "acme"}, "EdDSA")
    assert pyjwt.get_unverified_header(token)["alg"] == "EdDSA"
    assert ring.verify(token)[1] == {"iss": "acme"}
    public = pyjwt.PyJWK(okp).key
    assert pyjwt.decode(token, public, algorithms=["EdDSA"]) == {"iss": "acme"}
    new_kids = store.rotate("acme", sign_after=0)  # every algorithm in use
    assert len(new_kids) == 3
    assert {str(k.kid) for k in store.ring("acme").signing.values()} == set(new_kids)
