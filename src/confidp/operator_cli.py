"""``confidp mfa reset TENANT USERNAME`` and ``confidp sessions revoke TENANT USERNAME``: an
operator's answers to a lost device and to an incident, against the running server's state.

- With the memory store (``--store memory``, the default) the state is inside the server:
  the command asks its operations listener (``--ops-host``/``--ops-port``, as ``serve`` was
  given them), authorised by the operator token in the state directory (confidp.ops_token).
- With Redis the command changes the shared state itself (sessions and families in Redis,
  enrolments in Redis sealed with ``<state>/enrolment.key``): it needs the state directory
  and the tenants directory the servers use.

Exit status: 0 done (also when there was nothing to remove), 1 the server or store could not
be reached or refused, 2 a usage error (unknown tenant or user).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

RESET_PATH = "/admin/mfa/reset"
REVOKE_PATH = "/admin/sessions/revoke"


def add_commands(commands: Any, env: Callable[[str, str], str], defaults: Any) -> None:
    for name, action, text in (
            ("mfa", "reset", "remove every second factor and recovery code of a person (a "
             "lost device): they set one up again at their next sign-in where one is "
             "required"),
            ("sessions", "revoke", "end every session of a person and revoke every refresh "
             "token they hold (an incident)")):
        parser = commands.add_parser(name, help=text, description=text + ". "
                                     + (__doc__ or "").split("\n\n")[1].replace("\n", " "))
        parser.add_argument("action", choices=[action])
        parser.add_argument("tenant", metavar="TENANT", help="the tenant id")
        parser.add_argument("username", metavar="USERNAME",
                            help="a user of the tenant file (or a subject, with --subject)")
        parser.add_argument("--subject", action="store_true",
                            help="USERNAME is a subject (a person of another identity source)")
        parser.add_argument("--store", default=env("STORE", defaults.store),
                            help="the servers' store: memory (ask the running server) or "
                            f"redis://... (CONFIDP_STORE; default: {defaults.store})")
        parser.add_argument("--ops-host", default=env("OPS_HOST", defaults.ops_host),
                            help="the running server's operations listener (CONFIDP_OPS_HOST; "
                            f"default: {defaults.ops_host})")
        parser.add_argument("--ops-port", type=int,
                            default=int(env("OPS_PORT", str(defaults.ops_port))),
                            help=f"(CONFIDP_OPS_PORT; default: {defaults.ops_port})")
        parser.add_argument("--state-dir", type=Path,
                            default=Path(env("STATE_DIR", str(defaults.state_dir))),
                            help="the servers' state directory (CONFIDP_STATE_DIR; default: "
                            f"{defaults.state_dir})")
        parser.add_argument("--tenants", type=Path,
                            default=Path(env("TENANTS", str(defaults.tenants_dir))),
                            help="the servers' tenants directory, with Redis (CONFIDP_TENANTS; "
                            f"default: {defaults.tenants_dir})")


def _say(result: dict[str, Any], command: str) -> None:
    if command == "mfa":
        done = "removed" if result.get("removed") else "had none; nothing removed"
        print(f"{result['tenant']}: second factors of subject {result['subject']!r}: {done}")
    else:
        print(f"{result['tenant']}: subject {result['subject']!r}: {result['sessions']} "
              f"session(s) ended, {result['families']} refresh-token family(ies) revoked")


def _through_server(args: argparse.Namespace) -> int:
    from confidp.ops_token import OpsTokenError
    from confidp.ops_token import load_or_create as load_token

    try:
        token = load_token(args.state_dir, create=False)
    except (OpsTokenError, OSError) as exc:
        print(f"confidp: the operator token: {exc}", file=sys.stderr)
        return 1
    host = f"[{args.ops_host}]" if ":" in args.ops_host else args.ops_host
    url = f"http://{host}:{args.ops_port}{RESET_PATH if args.command == 'mfa' else REVOKE_PATH}"
    body = {"tenant": args.tenant,
            ("subject" if args.subject else "username"): args.username}
    try:
        response = httpx.post(url, json=body, timeout=10.0,
                              headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        print(f"confidp: the server's operations listener at {url} cannot be reached "
              f"({exc}); is the server running, with this --ops-host/--ops-port?",
              file=sys.stderr)
        return 1
    try:
        result = response.json()
    except json.JSONDecodeError:
        result = {}
    if response.status_code != 200:
        print(f"confidp: {response.status_code}: "
              f"{result.get('error_description', response.text[:200])}", file=sys.stderr)
        return 2 if response.status_code == 404 else 1
    _say(result, args.command)
    return 0


def _directly(args: argparse.Namespace) -> int:
    from confidp.config.loader import check_files, tenant_id_of
    from confidp.keys import KeyStore
    from confidp.mfa.cipher import EnrolmentKeyError
    from confidp.mfa.enrolments import open_enrolments
    from confidp.mfa.operator import UnknownPerson, reset_factors, revoke_sessions, subject_of
    from confidp.oauth.tokens import TokenService
    from confidp.server_key import ServerKey
    from confidp.store import StoreUnavailable, open_store, store_url_problem
    from confidp.store.tenant import TenantStore

    if problem := store_url_problem(args.store):
        print(f"confidp: {problem}", file=sys.stderr)
        return 2
    files = [p for p in sorted(args.tenants.glob("*.y*ml")) if tenant_id_of(p) == args.tenant]
    results = check_files(files, themes=None, environ=None) if files else []
    tenant = results[0].tenant if results else None
    if tenant is None:
        print(f"confidp: no valid tenant file for {args.tenant!r} in {args.tenants}",
              file=sys.stderr)
        return 2
    try:
        subject = subject_of(tenant, args.username, is_subject=args.subject)
    except UnknownPerson as exc:
        print(f"confidp: {exc}", file=sys.stderr)
        return 2

    async def run() -> dict[str, Any]:
        store = open_store(args.store)
        try:
            if args.command == "mfa":
                enrolments = open_enrolments(args.store, store, args.state_dir)
                removed = await reset_factors(None, enrolments, tenant, subject)
                return {"tenant": tenant.id, "subject": subject, "removed": removed}
            tokens = TokenService(store, KeyStore(args.state_dir),
                                  ServerKey.from_state_dir(args.state_dir))
            ended, revoked = await revoke_sessions(None, tokens, TenantStore(store, tenant.id),
                                                   tenant, subject)
            return {"tenant": tenant.id, "subject": subject, "sessions": ended,
                    "families": revoked}
        finally:
            await store.close()

    try:
        result = asyncio.run(run())
    except (StoreUnavailable, EnrolmentKeyError, OSError) as exc:
        print(f"confidp: {exc}", file=sys.stderr)
        return 1
    _say(result, args.command)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.store == "memory":
        return _through_server(args)
    return _directly(args)
