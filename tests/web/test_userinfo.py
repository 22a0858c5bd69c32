"""GET {issuer}/userinfo in-process: tokens that are not UTF-8 (the fuzzer's find: an opaque
token's digest raised on them, a 500)."""

from __future__ import annotations

from pathlib import Path

from confidp.oauth.tokens import digest
from tests.inprocess import serving
from tests.support import write_tenant
from tests.web.conftest import example


def test_any_string_digests_even_bytes_that_were_not_utf8() -> None:
    undecodable = b"\xff\xfe token".decode("utf-8", "surrogateescape")
    assert digest(undecodable) != digest("token")
    assert len(digest(undecodable)) == 64


async def test_a_token_that_is_not_utf8_is_an_invalid_token_not_a_500(
        tmp_path: Path, tenants_dir: Path, themes_dir: Path) -> None:
    write_tenant(tenants_dir, "acme.yaml", example("acme.yaml"))
    async with serving(tenants_dir, themes_dir, tmp_path / "state") as server:
        for token in ("%FF%FE", "%E0%B3%92%FF", "a%ED%A0%80b"):
            response = await server.client.get(f"/acme/userinfo?access_token={token}")
            assert response.status_code == 401, response.text
            assert response.headers["www-authenticate"].startswith("Bearer realm=")
