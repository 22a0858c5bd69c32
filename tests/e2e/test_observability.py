"""Audit events, JSON logs, request ids and metrics of the real server (issue 14, items 1-3):
every event is produced by a real flow and parsed from the server's own JSON output; the
metrics are scraped from the operations listener afterwards. One server for the module
(``--log-format json --access-log --trust-proxy``); each test tells its own lines apart by the
``X-Request-Id`` it sends."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from confidp.audit import BASE_FIELDS, EVENT_FIELDS
from tests.e2e.flow import (
    VERIFIER,
    authorize_url,
    location,
    query_of,
    seed_params,
    submit_consent,
    submit_login,
)
from tests.e2e.test_authorize import example
from tests.support import (
    REPO,
    Server,
    free_port,
    replace_tenant,
    running_server,
    wait_until,
    write_tenant,
)

pytestmark = pytest.mark.e2e
CALLBACK = "http://127.0.0.1:9999/callback"
PROXIED_IP = "203.0.113.7"
AGENT = "observability-test/1.0"


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("observability")
    tenants = root / "tenants"
    tenants.mkdir()
    port = free_port()
    acme = example("acme.yaml", port, login_throttle={
        "max_failures_per_user": 3, "max_failures_per_ip": 100, "window": "10m"})
    acme["lifetimes"]["refresh_token_reuse_interval"] = "0s"  # a second use is reuse at once
    acme["users"].append({"username": "mallory", "disabled": True,
                          "password_hash": acme["users"][0]["password_hash"]})
    acme["users"].append({"username": "bob",  # the one the lockout test locks out
                          "password_hash": acme["users"][0]["password_hash"]})
    write_tenant(tenants, "acme.yaml", acme)
    with running_server(tenants, REPO / "themes", root / "state", port,
                        extra_args=("--log-format", "json", "--access-log", "--trust-proxy"),
                        env={"PYTHONUNBUFFERED": "1"}) as server:
        server.tenants_dir = tenants  # type: ignore[attr-defined]
        yield server


def lines(server: Server) -> list[dict[str, Any]]:
    """Every line the server wrote, each parsed as JSON (a line that is not fails the test)."""
    parsed = []
    for line in server.log().splitlines():
        if line.strip():
            parsed.append(json.loads(line))
    return parsed


def events(server: Server, request_id: str, event: str | None = None) -> list[dict[str, Any]]:
    return [line for line in lines(server) if line.get("logger") == "confidp.audit"
            and line.get("request_id") == request_id
            and (event is None or line["event"] == event)]


def browser(server: Server, request_id: str) -> httpx.Client:
    """A browser behind the trusted proxy: its address arrives in X-Forwarded-For."""
    return httpx.Client(base_url=server.base, timeout=10, follow_redirects=False, headers={
        "X-Request-Id": request_id, "User-Agent": AGENT, "X-Forwarded-For": PROXIED_IP})


def new_id(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}"


def signed_in(server: Server, request_id: str) -> dict[str, Any]:
    """Sign in as alice through the pages, approve, redeem the code: the token response."""
    with browser(server, request_id) as client:
        login = location(client.get(authorize_url("/acme", seed_params())))
        callback = location(submit_login(client, login, "alice", "wonderland"))
        if "/consent?" in callback:  # not yet granted
            callback = location(submit_consent(client, callback, "approve"))
        code = query_of(callback)["code"]
        tokens = client.post("/acme/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "client_id": "portal-spa", "code_verifier": VERIFIER})
        assert tokens.status_code == 200, tokens.text
        return {**tokens.json(), "code": code}


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def refresh(server: Server, request_id: str, token: str) -> httpx.Response:
    with browser(server, request_id) as client:
        return client.post("/acme/token", data={"grant_type": "refresh_token",
                                                "refresh_token": token,
                                                "client_id": "portal-spa"})


def check_base(event: dict[str, Any], request_id: str) -> None:
    """What every request's event carries: the documented fields, the trusted proxy's client
    address, the user agent and the request id."""
    assert set(BASE_FIELDS) <= set(event), event
    assert set(event) - {"level", "logger"} <= set(BASE_FIELDS) | set(
        EVENT_FIELDS[event["event"]]), event
    assert event["tenant"] == "acme"
    assert event["ip"] == PROXIED_IP
    assert event["user_agent"] == AGENT
    assert event["request_id"] == request_id
    assert event["time"].endswith("Z")


def test_a_sign_in_and_its_tokens_leave_one_event_each(idp: Server) -> None:
    request_id = new_id("flow")
    tokens = signed_in(idp, request_id)
    found = events(idp, request_id)
    assert [event["event"] for event in found] == [
        "signin.succeeded", "consent.granted", "code.issued", "tokens.issued"]
    for event in found:
        check_base(event, request_id)
        assert event["client_id"] == "portal-spa"
        assert event["subject"] == jwt_claims(tokens["access_token"])["sub"]
        assert event["connector"] == "local"
    succeeded, consent, code, issued = found
    assert succeeded["username"] == "alice" and succeeded["amr"] == ["pwd"]
    assert consent["scope"] == "openid profile email offline_access orders.read"
    assert len(code["code_id"]) == 16 and code["code_id"] not in tokens["code"]
    assert issued["grant_type"] == "authorization_code"
    assert issued["jti"] == jwt_claims(tokens["access_token"])["jti"]
    assert issued["scope"] == tokens["scope"] and issued["refresh"] is True
    log = idp.log()  # never a secret: not the password, a code or a token
    for secret in ("wonderland", tokens["code"], tokens["access_token"],
                   tokens["refresh_token"], tokens["id_token"]):
        assert secret not in log


def test_refresh_reuse_revocation_and_logout(idp: Server) -> None:
    request_id = new_id("tokens")
    tokens = signed_in(idp, request_id)
    first = tokens["refresh_token"]
    rotated = refresh(idp, request_id, first)
    assert rotated.status_code == 200
    reused = refresh(idp, request_id, first)  # the rotated-out token again: reuse
    assert reused.status_code == 400
    subject = jwt_claims(tokens["access_token"])["sub"]
    issued = events(idp, request_id, "tokens.issued")
    assert [event["grant_type"] for event in issued] == ["authorization_code", "refresh_token"]
    assert issued[1]["jti"] == jwt_claims(rotated.json()["access_token"])["jti"]
    [reuse] = events(idp, request_id, "refresh.reuse_detected")
    check_base(reuse, request_id)
    assert reuse["subject"] == subject and reuse["family_revoked"] is True

    again = signed_in(idp, request_id)
    with browser(idp, request_id) as client:
        assert client.post("/acme/revoke", data={"token": again["access_token"],
                                                 "client_id": "portal-spa"}).status_code == 200
        assert client.post("/acme/revoke", data={"token": again["refresh_token"],
                                                 "client_id": "portal-spa"}).status_code == 200
    revoked = events(idp, request_id, "token.revoked")
    assert [(event["token_type"], event["subject"]) for event in revoked] == [
        ("access_token", subject), ("refresh_token", subject)]
    assert revoked[0]["jti"] == jwt_claims(again["access_token"])["jti"]

    with browser(idp, request_id) as client:  # a browser with a session signs out
        login = location(client.get(authorize_url("/acme", seed_params())))
        location(submit_login(client, login, "alice", "wonderland"))
        assert client.get("/acme/logout", params={"id_token_hint": again["id_token"]}
                          ).status_code == 200
    [logout] = events(idp, request_id, "logout")
    check_base(logout, request_id)
    assert logout["subject"] == subject and logout["client_id"] == "portal-spa"


def attempt(server: Server, request_id: str, username: str, password: str) -> int:
    with browser(server, request_id) as client:
        login = location(client.get(authorize_url("/acme", seed_params())))
        return submit_login(client, login, username, password).status_code


def test_failed_sign_ins_say_why_and_a_lockout_is_its_own_event(idp: Server) -> None:
    request_id = new_id("failures")
    assert attempt(idp, request_id, "nobody", "wonderland") == 401
    assert attempt(idp, request_id, "mallory", "wonderland") == 401
    statuses = [attempt(idp, request_id, "bob", "not-his-password") for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    failed = events(idp, request_id, "signin.failed")
    assert [(event["username"], event["reason"]) for event in failed] == [
        ("nobody", "unknown_user"), ("mallory", "disabled"),
        ("bob", "wrong_password"), ("bob", "wrong_password"), ("bob", "wrong_password")]
    for event in failed:
        check_base(event, request_id)
        assert event["subject"] is None and event["connector"] == "local"
    [locked] = events(idp, request_id, "signin.locked_out")
    assert locked["reason"] == "throttled" and locked["username"] == "bob"
    assert locked["retry_after"] > 0
    assert "not-his-password" not in idp.log()


def test_a_denied_consent(idp: Server) -> None:
    request_id = new_id("deny")
    with browser(idp, request_id) as client:
        login = location(client.get(authorize_url("/acme", seed_params(scope="openid",
                                                                    prompt="consent"))))
        after = location(submit_login(client, login, "alice", "wonderland"))
        assert query_of(location(submit_consent(client, after, "deny")))["error"] \
            == "access_denied"
    [denied] = events(idp, request_id, "consent.denied")
    check_base(denied, request_id)
    assert denied["scope"] == "openid" and denied["client_id"] == "portal-spa"
    assert events(idp, request_id, "code.issued") == []


def test_reload_outcomes_are_events(idp: Server) -> None:
    tenants: Path = idp.tenants_dir  # type: ignore[attr-defined]
    port = idp.port
    replace_tenant(tenants, "initech.yaml", example("globex.yaml", port, issuer=(
        f"http://127.0.0.1:{port}/initech")))
    added = wait_until(lambda: [line for line in lines(idp) if line.get("event") ==
                                "tenant.reload" and line["file"] == "initech.yaml"])
    assert added[0]["outcome"] == "added" and added[0]["tenant"] == "initech"
    assert added[0]["request_id"] is None and added[0]["ip"] is None
    replace_tenant(tenants, "initech.yaml", b"issuer: [")
    rejected = wait_until(lambda: [line for line in lines(idp) if line.get("event") ==
                                   "tenant.reload" and line["file"] == "initech.yaml"
                                   and line["outcome"] == "rejected"])
    assert rejected[0]["level"] == "INFO" and rejected[0]["detail"]


def test_the_request_id_is_the_clients_when_safe_else_a_new_one(idp: Server) -> None:
    given = "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7"
    assert idp.get("/acme/jwks", headers={"X-Request-Id": given}).headers["x-request-id"] \
        == given
    for hostile in ("a" * 129, "x y", "<script>", "", "id\x7f"):
        answer = idp.get("/acme/jwks", headers={"X-Request-Id": hostile})
        made = answer.headers["x-request-id"]
        assert made != hostile and len(made) == 32 and int(made, 16) >= 0
    made = [idp.get("/acme/nowhere").headers["x-request-id"] for _ in range(2)]
    assert made[0] != made[1]  # a 404 gets one too, a new one each time
    assert "x-request-id" in idp.ops_get("/metrics").headers
    line = wait_until(lambda: [entry for entry in lines(idp) if entry.get("logger") ==
                               "sanic.access" and entry.get("request_id") == given])
    assert line[0]["path"] == "/acme/jwks" and line[0]["status"] == 200


def test_every_line_is_json_sanics_own_and_the_access_log_included(idp: Server) -> None:
    idp.get("/acme/authorize?client_id=portal-spa&code=should-not-be-logged")
    parsed = wait_until(lambda: [line for line in lines(idp) if line.get("logger") ==
                                 "sanic.access" and line.get("path") == "/acme/authorize"])
    access = parsed[-1]
    assert {"time", "level", "message", "method", "status", "bytes", "duration_ms", "ip",
            "request_id"} <= set(access)
    assert access["ip"] == "127.0.0.1"  # no X-Forwarded-For: the peer itself
    assert "should-not-be-logged" not in idp.log()  # the query is not logged
    loggers = {line["logger"] for line in lines(idp)}
    assert {"sanic.server", "sanic.access", "confidp.server", "confidp.reload",
            "confidp.audit"} <= loggers
    started = [line for line in lines(idp) if line["logger"] == "sanic.server"]
    assert any("Starting worker" in line["message"] for line in started)
    for line in lines(idp):
        assert {"level", "logger", "time"} <= set(line)


def samples(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = server.ops_get("/metrics").text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_the_flows(idp: Server) -> None:
    before = samples(idp)
    request_id = new_id("metrics")
    tokens = signed_in(idp, request_id)
    assert attempt(idp, request_id, "nobody", "x") == 401
    refresh(idp, request_id, tokens["refresh_token"])
    assert refresh(idp, request_id, tokens["refresh_token"]).status_code == 400
    idp.get(f"/acme/unknown-{secrets.token_hex(4)}")
    after = samples(idp)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("confidp_signins_total", tenant="acme", outcome="success") == 1
    assert grew("confidp_signins_total", tenant="acme", outcome="unknown_user") == 1
    assert grew("confidp_tokens_issued_total", tenant="acme",
                grant_type="authorization_code", client="portal-spa") == 1
    assert grew("confidp_tokens_issued_total", tenant="acme", grant_type="refresh_token",
                client="portal-spa") == 1
    assert grew("confidp_refresh_reuse_detected_total", tenant="acme") == 1
    assert grew("confidp_http_request_duration_seconds_count", route="/token",
                method="POST", status="200") == 2
    assert grew("confidp_http_request_duration_seconds_count", route="/login",
                method="POST", status="302") + grew(
        "confidp_http_request_duration_seconds_count", route="/login", method="POST",
        status="303") == 1
    assert grew("confidp_http_request_duration_seconds_count", route="unrouted",
                method="GET", status="404") == 1
    assert grew("confidp_store_operation_duration_seconds_count", operation="consume") >= 2
    assert value(after, "confidp_store_errors_total", operation="get") == 0
    routes = {dict(labels).get("route") for (name, labels) in after
              if name == "confidp_http_request_duration_seconds_count"}
    assert all(route == "unrouted" or route.startswith("/") for route in routes)
    assert not any(route.startswith("/acme") for route in routes)  # templates, not paths
