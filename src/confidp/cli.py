"""The ``confidp`` command: serve, check, hash-password, schema."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from confidp.model import Secret
from confidp.settings import Settings

ENV_PREFIX = "CONFIDP_"
DEFAULTS = Settings()  # the defaults, written once (confidp.settings)
DEFAULT_THEMES_DIR = "themes"
MAX_SHUTDOWN_DELAY = 60  # seconds; orchestrators kill a process that takes much longer


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


def _env_flag(name: str) -> bool:
    return _env(name, "").strip().lower() in ("1", "true", "yes", "on")


def _env_path(name: str) -> Path | None:
    value = _env(name, "")
    return Path(value) if value else None


class UsageError(Exception):
    """A mistake in the command line or its environment: ``main`` prints it as one line and
    exits 2."""


def _duration(text: str) -> int:
    """An argparse type: a duration as tenant files write them (30s, 5m), in seconds."""
    from confidp.config.durations import seconds

    try:
        return seconds(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: a whole number and "
                                         "s, m, h or d (30s, 5m)") from None


def _themes_dir(given: Path | None) -> Path | None:
    """The themes directory: the one given (--themes or CONFIDP_THEMES), which must exist, or
    else ./themes when it exists, or else None (the built-in default theme only)."""
    if given is None:
        implicit = Path(DEFAULT_THEMES_DIR)
        return implicit if implicit.is_dir() else None
    if not given.is_dir():
        raise UsageError(f"the themes directory {given} does not exist (leave --themes and "
                         "CONFIDP_THEMES unset to use only the built-in default theme)")
    return given


def _version() -> str:
    """The installed distribution's version (its metadata, not a constant kept in step)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("confidp")
    except PackageNotFoundError:
        return "(unknown: not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="confidp", description="A declarative OAuth 2.0 / OpenID Connect provider.")
    parser.add_argument("--version", action="version", version=f"confidp {_version()}",
                        help="print the installed version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the tenants (hot-reloaded)",
                                description="Serve every tenant file of the tenants directory "
                                "and reload them when they change. Each flag can also be set "
                                "by the CONFIDP_* variable named in its help.")
    serve.add_argument("--tenants", type=Path,
                       default=Path(_env("TENANTS", str(DEFAULTS.tenants_dir))),
                       help=f"tenant files directory (CONFIDP_TENANTS; default: "
                       f"{DEFAULTS.tenants_dir})")
    serve.add_argument("--themes", type=Path, default=_env_path("THEMES"),
                       help="directory of extra themes, and of files overriding the built-in "
                       "default theme (CONFIDP_THEMES; default: ./themes when it exists)")
    serve.add_argument("--host", default=_env("HOST", DEFAULTS.host),
                       help=f"address to listen on (CONFIDP_HOST; default: {DEFAULTS.host})")
    serve.add_argument("--port", type=int, default=int(_env("PORT", str(DEFAULTS.port))),
                       help=f"port to listen on (CONFIDP_PORT; default: {DEFAULTS.port})")
    serve.add_argument("--ops-host", default=_env("OPS_HOST", DEFAULTS.ops_host),
                       help="address of the operations listener: /healthz, /readyz, /status, "
                       f"/metrics (CONFIDP_OPS_HOST; default: {DEFAULTS.ops_host})")
    serve.add_argument("--ops-port", type=int,
                       default=int(_env("OPS_PORT", str(DEFAULTS.ops_port))),
                       help="port of the operations listener (CONFIDP_OPS_PORT; default: "
                       f"{DEFAULTS.ops_port})")
    serve.add_argument("--access-log", action="store_true", default=_env_flag("ACCESS_LOG"),
                       help="log one line per request (CONFIDP_ACCESS_LOG=1; default: off)")
    serve.add_argument("--state-dir", type=Path,
                       default=Path(_env("STATE_DIR", str(DEFAULTS.state_dir))),
                       help="directory for signing keys and local state (CONFIDP_STATE_DIR; "
                       f"default: {DEFAULTS.state_dir})")
    serve.add_argument("--no-tenant-cache", dest="tenant_cache", action="store_false",
                       default=_env("TENANT_CACHE", "1") not in ("0", "off", "false"),
                       help="validate every tenant file at start instead of serving the "
                       "unchanged ones from the cache in the state directory "
                       "(CONFIDP_TENANT_CACHE=0; default: on)")
    serve.add_argument("--cache-dir", type=Path, default=_env_path("CACHE_DIR"),
                       help="where the tenant cache is kept, when the state directory is "
                       "read-only (CONFIDP_CACHE_DIR; default: STATE_DIR/cache)")
    serve.add_argument("--reload-poll", action="store_true", default=_env_flag("RELOAD_POLL"),
                       help="poll for changes instead of inotify, for file systems without it "
                       "(CONFIDP_RELOAD_POLL=1)")
    serve.add_argument("--trust-proxy", action="store_true", default=_env_flag("TRUST_PROXY"),
                       help="honour X-Forwarded-Host/-Proto from a reverse proxy "
                       "(CONFIDP_TRUST_PROXY=1)")
    serve.add_argument("--store", default=_env("STORE", DEFAULTS.store),
                       help="where sessions, codes and tokens live (CONFIDP_STORE; default: "
                       f"{DEFAULTS.store}): memory (one process); "
                       "redis://[:PASSWORD@]HOST:PORT/DB or unix:///PATH?db=DB (one Redis); redis+cluster://HOST:PORT,HOST:PORT,"
                       "... (a Redis Cluster: any of its nodes); redis+sentinel://HOST:PORT,"
                       "HOST:PORT,.../SERVICE[/DB] (the master Sentinel names SERVICE); "
                       "rediss... for TLS. Options: ?wait_replicas=N (replicas that must "
                       "have each write before it counts as done; default 1 for cluster "
                       "and sentinel, 0 otherwise), wait_timeout=SECONDS (0.5), "
                       "sentinel_password=..., ssl_ca_certs=FILE, ssl_certfile=FILE, "
                       "ssl_keyfile=FILE, ssl_cert_reqs=required|optional|none")
    serve.add_argument("--store-wait", type=float, default=float(_env("STORE_WAIT", "0")),
                       help="seconds to keep retrying an unreachable store at start "
                       "(CONFIDP_STORE_WAIT; default: 0, fail at once)")
    serve.add_argument("--workers", type=int,
                       default=int(_env("WORKERS", str(DEFAULTS.workers))),
                       help=f"worker processes (CONFIDP_WORKERS; default: {DEFAULTS.workers}); "
                       "more than one needs --store redis://")
    serve.add_argument("--shutdown-delay", type=float,
                       default=float(_env("SHUTDOWN_DELAY", str(DEFAULTS.shutdown_delay))),
                       metavar="SECONDS",
                       help="at SIGTERM, answer /readyz with 503 and keep serving this long "
                       "before closing the listeners, so a load balancer's health check takes "
                       "the replica out first (CONFIDP_SHUTDOWN_DELAY; default: "
                       f"{DEFAULTS.shutdown_delay:g})")
    serve.add_argument("--log-format", choices=["text", "json"],
                       default=_env("LOG_FORMAT", DEFAULTS.log_format),
                       help="every log line, Sanic's own and the access log's included, as "
                            "text or as one JSON object (CONFIDP_LOG_FORMAT; default: "
                            f"{DEFAULTS.log_format})")
    serve.add_argument("--audit-log", default=_env("AUDIT_LOG", "-"), metavar="PATH|-|off",
                       help="where audit events go: - to the log (default), a file to "
                            "append one JSON line each to (reopened when a rotator moves "
                            "it), or off (CONFIDP_AUDIT_LOG)")
    serve.add_argument("--log-level", default=_env("LOG_LEVEL", DEFAULTS.log_level),
                       choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                       help=f"log level (CONFIDP_LOG_LEVEL; default: {DEFAULTS.log_level})")

    check = commands.add_parser("check", help="validate tenant files (for CI)",
                                description="Validate tenant files with the server's own "
                                "validator. Exit 0 when all are valid, 1 with one line per error "
                                "otherwise, 2 when nothing could be checked.")
    check.add_argument("paths", nargs="+", type=Path,
                       help="tenant files, or directories of them")
    check.add_argument("--themes", type=Path, default=None,
                       help="themes directory to check theme names against (default: "
                       "CONFIDP_THEMES or ./themes when it exists)")
    check.add_argument("--format", choices=["text", "json"], default="text")
    check.add_argument("--resolve-secrets", action="store_true",
                       help="also read env and file client secrets, as the server does")

    commands.add_parser("hash-password", help="print the argon2id hash of a password or secret",
                        description="Read a password (prompted twice on a terminal, else the "
                        "first line of standard input, UTF-8) and print its argon2id hash for "
                        "a tenant file. At least 8 and at most 1024 characters (NIST SP "
                        "800-63B); fewer than 15 is accepted with a warning.")
    commands.add_parser("schema", help="print the tenant file JSON Schema")
    messages = commands.add_parser(
        "messages", help="list the pages' messages, to override them in a tenant file",
        description="Print every message of the login, consent, error and sign-out pages "
        "in LANGUAGE, one line each: the English text (the key to use under "
        "messages.LANGUAGE in a tenant file) and the text shown now.")
    messages.add_argument("language", nargs="?", default="en",
                          choices=["en", "de", "fr", "es", "ja", "ar"])

    keys = commands.add_parser("keys", help="manage a tenant's signing keys",
                               description="Signing keys live in STATE_DIR/keys/TENANT. rotate "
                               "adds a new key for each algorithm, published in the JWKS at "
                               "once and signing from --sign-after later (5 minutes, the time "
                               "relying parties may cache the JWKS); the JWKS keeps publishing "
                               "older keys until retire. A running server sees the change "
                               "without restart.")
    keys.add_argument("action", choices=["list", "rotate", "retire"],
                      help="list only reads; rotate and retire change the keys")
    keys.add_argument("tenant", help="the tenant id (its file name without .yaml); it must "
                      "have a file in the tenants directory")
    keys.add_argument("--tenants", type=Path,
                      default=Path(_env("TENANTS", str(DEFAULTS.tenants_dir))),
                      help="tenant files directory, to check the tenant exists "
                      f"(CONFIDP_TENANTS; default: {DEFAULTS.tenants_dir})")
    keys.add_argument("--state-dir", type=Path,
                      default=Path(_env("STATE_DIR", str(DEFAULTS.state_dir))),
                      help=f"(CONFIDP_STATE_DIR; default: {DEFAULTS.state_dir})")
    keys.add_argument("--sign-after", type=_duration, default="5m", metavar="DURATION",
                      help="rotate: how long the new keys are published before they sign "
                      "(30s, 5m, ...; default 5m, the JWKS's cache lifetime). 0s signs at once, "
                      "for a key that must stop signing now: relying parties holding a cached "
                      "JWKS then refuse the new tokens until they fetch it again")

    sealing = commands.add_parser(
        "sealing-key", help="show or rotate the key that seals sign-ins in progress",
        description="The sealing key (STATE_DIR/sealing.key) encrypts the sign-in request a "
        "login page carries. rotate makes a new key that seals from then on and keeps the "
        "previous one to open what it sealed, so sign-ins in progress finish; a second rotate "
        "drops the oldest. Running servers see the change without restart. list shows the "
        "keys' fingerprints, to compare replicas.")
    sealing.add_argument("action", choices=["list", "rotate"])
    sealing.add_argument("--state-dir", type=Path,
                         default=Path(_env("STATE_DIR", str(DEFAULTS.state_dir))),
                         help=f"(CONFIDP_STATE_DIR; default: {DEFAULTS.state_dir})")

    state = commands.add_parser(
        "state", help="prepare a state directory ahead of serving",
        description="init makes everything a server would otherwise make on first use: the "
        "sealing key, the server key, the enrolment key, the operator token and the signing "
        "keys of every tenant file in --tenants. "
        "Existing keys are kept. For servers whose state directory is read-only (keys from a "
        "Kubernetes Secret).")
    state.add_argument("action", choices=["init"])
    state.add_argument("--tenants", type=Path,
                       default=Path(_env("TENANTS", str(DEFAULTS.tenants_dir))),
                       help="tenant files directory (CONFIDP_TENANTS; default: "
                       f"{DEFAULTS.tenants_dir})")
    state.add_argument("--state-dir", type=Path,
                       default=Path(_env("STATE_DIR", str(DEFAULTS.state_dir))),
                       help=f"(CONFIDP_STATE_DIR; default: {DEFAULTS.state_dir})")
    from confidp.operator_cli import add_commands

    add_commands(commands, _env, DEFAULTS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _command(args)
    except UsageError as exc:
        print(f"confidp: {exc}", file=sys.stderr)
        return 2


def _command(args: argparse.Namespace) -> int:
    match args.command:
        case "serve":
            return _serve(args)
        case "check":
            return _check(args)
        case "hash-password":
            return _hash_password()
        case "keys":
            return _keys(args)
        case "sealing-key":
            return _sealing_key(args)
        case "messages":
            from confidp.i18n.listing import listing

            sys.stdout.write(listing(args.language))
            return 0
        case "state":
            return _state_init(args)
        case "mfa" | "sessions":
            from confidp import operator_cli

            return operator_cli.run(args)
        case _:
            from confidp.config.schema import schema_text

            sys.stdout.write(schema_text())
            return 0


def _serve(args: argparse.Namespace) -> int:
    from confidp.logs import FORMATS, audit_log_problem, configure
    from confidp.mfa.cipher import EnrolmentKeyError
    from confidp.mfa.cipher import load_or_create_key as load_or_create_enrolment_key
    from confidp.ops_token import OpsTokenError
    from confidp.ops_token import load_or_create as load_or_create_ops_token
    from confidp.sealing import SealingKeyError, load_or_create_keys
    from confidp.server_key import ServerKeyError
    from confidp.server_key import load_or_create as load_or_create_server_key
    from confidp.settings import Settings
    from confidp.themes import ThemeError, check_default_theme

    if args.log_format not in FORMATS:  # from CONFIDP_LOG_FORMAT: argparse checks the flag
        print(f"confidp: the log format must be text or json, not {args.log_format!r}",
              file=sys.stderr)
        return 2
    configure(args.log_level, args.log_format)
    audit_on = args.audit_log != "off"
    audit_log = Path(args.audit_log).absolute() if args.audit_log not in ("-", "off") \
        else None
    if audit_log is not None and (problem := audit_log_problem(audit_log)):
        print(f"confidp: {problem}", file=sys.stderr)
        return 2
    problem = _tenants_dir_problem(args.tenants)
    if problem:
        print(f"confidp: {problem}", file=sys.stderr)
        return 2
    themes_dir = _themes_dir(args.themes)
    try:
        check_default_theme(themes_dir)
    except ThemeError as exc:
        print(f"confidp: {exc}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("confidp: --workers must be at least 1", file=sys.stderr)
        return 2
    for flag, value in (("--port", args.port), ("--ops-port", args.ops_port)):
        if not 1 <= value <= 65535:
            note = (" (the operations listener cannot be turned off; it listens on localhost "
                    "unless --ops-host says otherwise)" if flag == "--ops-port" else "")
            print(f"confidp: {flag} must be a port number from 1 to 65535{note}",
                  file=sys.stderr)
            return 2
    if not 0 <= args.shutdown_delay <= MAX_SHUTDOWN_DELAY:
        print(f"confidp: --shutdown-delay must be from 0 to {MAX_SHUTDOWN_DELAY} seconds",
              file=sys.stderr)
        return 2
    if args.ops_port == args.port:
        print(f"confidp: --ops-port must differ from --port ({args.port}): the operations "
              "endpoints have a listener of their own", file=sys.stderr)
        return 2
    if args.workers > 1 and args.store == "memory":
        print(f"confidp: --workers {args.workers} needs a shared store. The memory store "
              "lives inside one process, so a login on one worker would be unknown to the "
              "others. Use --store redis://HOST:6379/0 (or CONFIDP_STORE), or run one worker.",
              file=sys.stderr)
        return 2
    from confidp.store import store_url_problem

    problem = store_url_problem(args.store)
    if problem:
        print(f"confidp: --store: {problem}", file=sys.stderr)
        return 2
    if args.store != "memory" and not _store_reachable(args.store, args.store_wait):
        return 1
    try:
        args.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        print(f"confidp: cannot create the state directory {args.state_dir}: {exc.strerror}",
              file=sys.stderr)
        return 2
    try:  # made here once, so a bad key file is an error at start, not in every worker
        load_or_create_keys(args.state_dir)
    except (SealingKeyError, OSError) as exc:
        print(f"confidp: the sealing key: {exc}", file=sys.stderr)
        return 2
    try:
        load_or_create_server_key(args.state_dir)
    except (ServerKeyError, OSError) as exc:
        print(f"confidp: the server key: {exc}", file=sys.stderr)
        return 2
    try:
        load_or_create_enrolment_key(args.state_dir)
        load_or_create_ops_token(args.state_dir)
    except (EnrolmentKeyError, OpsTokenError) as exc:
        print(f"confidp: the enrolment key or operator token: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a read-only state directory made before them: served without
        print(f"confidp: warning: the enrolment key or operator token cannot be made "
              f"({exc.strerror}): nobody can enrol a second factor, and the operator "
              "commands cannot reach this server; run confidp state init and add "
              "enrolment.key and ops.token to the state", file=sys.stderr)
    token = os.environ.get(ENV_PREFIX + "STATUS_TOKEN")
    settings = Settings(
        tenants_dir=args.tenants.absolute(),
        themes_dir=themes_dir.absolute() if themes_dir else None, host=args.host,
        port=args.port, state_dir=args.state_dir.absolute(), reload_poll=args.reload_poll,
        trust_proxy=args.trust_proxy, status_token=Secret(token) if token else None,
        log_level=args.log_level, store=args.store, workers=args.workers,
        ops_host=args.ops_host, ops_port=args.ops_port, access_log=args.access_log,
        shutdown_delay=args.shutdown_delay, log_format=args.log_format, audit=audit_on,
        audit_log=audit_log,
        request_metrics=_env("REQUEST_METRICS", "1") not in ("0", "off", "false"),
        tenant_cache=args.tenant_cache,
        cache_dir=args.cache_dir.absolute() if args.cache_dir else None)
    return _run(settings)


def _tenants_dir_problem(tenants: Path) -> str | None:
    """Why ``serve`` cannot start on this tenants directory: missing, or without one tenant
    file (a container started without its tenants mounted would otherwise serve nothing)."""
    from confidp.config.loader import is_tenant_file_name

    hint = (f"put your tenant files there (in a container, mount them at {tenants}) or point "
            "--tenants (CONFIDP_TENANTS) at them; the README's Container section shows how "
            "to serve the demo tenants instead")
    if not tenants.is_dir():
        return f"the tenants directory {tenants} does not exist: {hint}"
    try:
        found = any(is_tenant_file_name(entry.name) and entry.is_file()  # follows links
                    for entry in os.scandir(tenants))
    except OSError as exc:
        return f"cannot list the tenants directory {tenants}: {exc.strerror}"
    if not found:
        return f"no tenant files (*.yaml, *.yml) in the tenants directory {tenants}: {hint}"
    return None


def _run(settings: Settings) -> int:
    import logging
    from functools import partial

    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    from confidp.app import create_app
    from confidp.metrics import MULTIPROCESS_DIR
    from confidp.web.listeners import ListenError, OpsProtocol, PublicProtocol, bind

    try:  # bound here, so that an address in use is one line, for either listener
        public = bind("public", settings.host, settings.port)
        ops = bind("operations", settings.ops_host, settings.ops_port)
    except ListenError as exc:
        print(f"confidp: {exc}", file=sys.stderr)
        return 2
    log = logging.getLogger("confidp.server")
    log.info("listening on %s (public: the issuers, /healthz, /readyz)", public.url)
    log.info("listening on %s (operations: /healthz, /readyz, /status, /metrics)", ops.url)
    if settings.workers == 1:
        app = create_app(settings, name="confidp")
        app.prepare(sock=public.sock, protocol=PublicProtocol, single_process=True,
                    motd=False, access_log=settings.access_log)
        app.prepare(sock=ops.sock, protocol=OpsProtocol, single_process=True, motd=False,
                    access_log=settings.access_log)
        Sanic.serve_single(primary=app)
        return 0
    # Each worker process builds its own app (own registry, watcher and store client) and
    # serves both listeners. Their metrics meet in a directory of this run's own
    # (confidp.metrics), which the workers, started afresh, find in their environment.
    metrics_dir = tempfile.mkdtemp(prefix="confidp-metrics-")
    os.environ[MULTIPROCESS_DIR] = metrics_dir
    try:
        loader = AppLoader(factory=partial(create_app, settings, "confidp"))
        app = loader.load()
        app.prepare(sock=public.sock, protocol=PublicProtocol, workers=settings.workers,
                    motd=False, access_log=settings.access_log)
        app.prepare(sock=ops.sock, protocol=OpsProtocol, workers=settings.workers,
                    motd=False, access_log=settings.access_log)
        Sanic.serve(primary=app, app_loader=loader)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _store_reachable(url: str, wait: float) -> bool:
    """Fail fast with a clear message, or keep trying for ``wait`` seconds, saying so. A
    Redis whose writes cannot be confirmed as the URL asks (``wait_replicas`` more than the
    master has replicas) is not ready either: every write would fail."""
    import asyncio
    import time

    from confidp.store import StoreUnavailable, open_store, redacted
    from confidp.store.redis import RedisStore

    shown = redacted(url)

    async def check() -> str | None:
        """What is wrong, as it follows the store's name in a message; None: ready."""
        store = open_store(url)  # a client per attempt: each asyncio.run has its own loop
        try:
            if not await store.ping():
                return " cannot be reached"
            if isinstance(store, RedisStore):
                try:
                    problem = await store.replication_problem()
                except StoreUnavailable as exc:
                    problem = str(exc)
                return f": {problem}" if problem else None
            return None
        finally:
            await store.close()

    deadline = time.monotonic() + wait
    while True:
        problem = asyncio.run(check())
        if problem is None:
            return True
        if time.monotonic() >= deadline:
            print(f"confidp: the store {shown}{problem}"
                  + (f" (waited {wait:g} s)" if wait else "")
                  + "; start Redis, fix --store, or pass --store-wait SECONDS to wait for it",
                  file=sys.stderr)
            return False
        reason = problem.removeprefix(": ").strip()
        print(f"confidp: waiting for the store {shown} ({reason}) ...", file=sys.stderr)
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def _tenant_files(paths: Sequence[Path]) -> tuple[list[Path], list[str]]:
    from confidp.config.loader import is_tenant_file_name

    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if is_tenant_file_name(p.name))
            if not found:
                problems.append(f"{path}: no tenant files (*.yaml, *.yml) in this directory")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            problems.append(f"{path}: no such file or directory")
    return files, problems


def _check(args: argparse.Namespace) -> int:
    from confidp.config.loader import check_files
    from confidp.reload import theme_names

    files, problems = _tenant_files(args.paths)
    for problem in problems:
        print(f"confidp: {problem}", file=sys.stderr)
    if not files:
        return 2
    themes_dir = args.themes or Path(_env("THEMES", "themes"))
    themes: frozenset[str] | None = None
    if themes_dir.is_dir():
        themes = theme_names(themes_dir)
    elif args.themes is not None:
        print(f"confidp: the themes directory {themes_dir} does not exist", file=sys.stderr)
        return 2
    results = check_files(files, themes=themes,
                          environ=os.environ if args.resolve_secrets else None)
    failed = [r for r in results if not r.ok]
    if args.format == "json":
        json.dump({"valid": not failed, "themes_checked": themes is not None,
                   "files": [{"file": r.source, "tenant": r.tenant_id, "valid": r.ok,
                              "errors": [e.to_dict() for e in r.errors],
                              "warnings": [w.to_dict() for w in r.warnings]}
                             for r in results]},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        # Errors and warnings of a file in the order of its lines; a warning says
        # "warning:" after its path and never fails the check.
        for result in results:
            for reported in sorted([*result.errors, *result.warnings],
                                   key=lambda p: (p.line, p.col, p.path)):
                print(reported)
        errors = sum(len(r.errors) for r in results)
        warnings = sum(len(r.warnings) for r in results)
        summary = (f"{len(results) - len(failed)} of {len(results)} tenant file(s) valid"
                   + (f", {errors} error(s)" if errors else "")
                   + (f", {warnings} warning(s)" if warnings else ""))
        if themes is None:
            summary += f" (theme names not checked: no themes directory {themes_dir})"
        print(summary, file=sys.stderr)
    return 1 if failed else 0


def _existing_tenant(tenants_dir: Path, tenant_id: str) -> None:
    """Raise UsageError unless ``tenant_id`` has a file in the tenants directory (valid or
    not: the file names the tenant, as it does for the server)."""
    from confidp.config.loader import TENANT_SUFFIXES, is_tenant_file_name, tenant_id_of
    from confidp.config.rules import tenant_id_problem

    if tenant_id_problem(tenant_id):
        raise UsageError(f"{tenant_id!r} is not a tenant id")
    if not tenants_dir.is_dir():
        raise UsageError(f"the tenants directory {tenants_dir} does not exist; pass "
                         "--tenants DIR or set CONFIDP_TENANTS")
    if any((tenants_dir / f"{tenant_id}{suffix}").is_file() for suffix in TENANT_SUFFIXES):
        return
    try:
        known = sorted({tenant_id_of(entry.name) for entry in os.scandir(tenants_dir)
                        if is_tenant_file_name(entry.name)})
    except OSError:
        known = []
    shown = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
    raise UsageError(f"no tenant {tenant_id!r} in {tenants_dir} (no {tenant_id}.yaml); "
                     f"tenants there: {shown or 'none'}")


def _keys(args: argparse.Namespace) -> int:
    from confidp.keys import KeyStore

    _existing_tenant(args.tenants, args.tenant)
    store = KeyStore(args.state_dir)
    try:
        if args.action == "rotate":
            for kid in store.rotate(args.tenant, sign_after=args.sign_after):
                print(f"added {kid}")
        elif args.action == "retire":
            retired = store.retire(args.tenant)
            for kid in retired:
                print(f"retired {kid}")
            if not retired:
                print("nothing to retire: only the signing keys are published", file=sys.stderr)
        ring = store.read(args.tenant)
    except (OSError, ValueError) as exc:  # KeyFileError is a ValueError
        print(f"confidp: the keys in {store.directory(args.tenant)}: {exc}", file=sys.stderr)
        return 1
    if ring is None:
        print(f"no keys yet for {args.tenant}: the server makes them when the tenant first "
              "signs a token (or run confidp keys rotate)", file=sys.stderr)
        return 0
    signing = {key.kid for key in ring.signing.values()}
    for key in ring.jwks["keys"]:
        role = "signs" if key["kid"] in signing else "verifies only"
        if key["kid"] in ring.upcoming:
            moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ring.upcoming[key["kid"]]))
            role = f"published, signs from {moment}"
        print(f"{key['alg']} {key['kid']} {role}")
    return 0


def _sealing_key(args: argparse.Namespace) -> int:
    from confidp.sealing import SealingKeyError, fingerprint, load_or_create_keys, rotate

    try:
        keys = rotate(args.state_dir) if args.action == "rotate" else \
            load_or_create_keys(args.state_dir)
    except (SealingKeyError, OSError) as exc:
        print(f"confidp: the sealing key: {exc}", file=sys.stderr)
        return 2
    for index, key in enumerate(keys):
        print(f"{fingerprint(key)} {'seals' if index == 0 else 'opens only'}")
    return 0


def _state_init(args: argparse.Namespace) -> int:
    from confidp.config.loader import is_tenant_file_name, tenant_id_of
    from confidp.keys import KeyStore
    from confidp.mfa.cipher import EnrolmentKeyError
    from confidp.mfa.cipher import load_or_create_key as load_or_create_enrolment_key
    from confidp.ops_token import OpsTokenError
    from confidp.ops_token import load_or_create as load_or_create_ops_token
    from confidp.sealing import SealingKeyError, load_or_create_keys
    from confidp.server_key import ServerKeyError
    from confidp.server_key import load_or_create as load_or_create_server_key

    if not args.tenants.is_dir():
        print(f"confidp: the tenants directory {args.tenants} does not exist", file=sys.stderr)
        return 2
    tenants = sorted(tenant_id_of(p) for p in args.tenants.iterdir()
                     if is_tenant_file_name(p.name))
    try:
        args.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        load_or_create_keys(args.state_dir)
        load_or_create_server_key(args.state_dir)
        load_or_create_enrolment_key(args.state_dir)
        load_or_create_ops_token(args.state_dir)
        store = KeyStore(args.state_dir)
        for tenant in tenants:
            store.ring(tenant)
    except (SealingKeyError, ServerKeyError, EnrolmentKeyError, OpsTokenError, OSError,
            ValueError) as exc:  # KeyFileError too
        print(f"confidp: the state directory {args.state_dir}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.state_dir}: sealing.key, server.key, enrolment.key, ops.token and the "
          "signing keys of "
          f"{len(tenants)} tenant(s){': ' if tenants else ''}{' '.join(tenants)}")
    return 0


class _NoPassword(Exception):
    """The password could not be read; the message says why."""


def _read_password() -> str:
    """Prompted twice on a terminal (checked before asking again), else the first line of
    standard input, as UTF-8."""
    from confidp.password_policy import MAX_LENGTH, password_problem

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        problem = password_problem(password)
        if problem:
            raise _NoPassword(problem)
        if password != getpass.getpass("Again: "):
            raise _NoPassword("the two passwords differ; nothing was hashed")
        return password
    limit = MAX_LENGTH * 4 + 2  # UTF-8 needs at most 4 bytes a character, then \r\n
    line = sys.stdin.buffer.readline(limit)
    if not line:
        raise _NoPassword("no password given: standard input is empty")
    if len(line) == limit and not line.endswith(b"\n"):
        raise _NoPassword(f"the password is longer than {MAX_LENGTH} characters, the most "
                          "the login form accepts")
    try:
        return line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise _NoPassword("the password is not valid UTF-8") from None


def _hash_password() -> int:
    from argon2 import PasswordHasher

    from confidp.password_policy import password_problem, password_warning

    try:
        password = _read_password()
    except _NoPassword as exc:
        print(f"confidp: {exc}", file=sys.stderr)
        return 1
    except EOFError:
        print("\nconfidp: no password given (end of input); nothing was hashed",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nconfidp: cancelled; nothing was hashed", file=sys.stderr)
        return 130
    problem = password_problem(password)
    if problem:
        print(f"confidp: {problem}", file=sys.stderr)
        return 1
    warning = password_warning(password)
    if warning:
        print(f"confidp: warning: {warning}", file=sys.stderr)
    print(PasswordHasher().hash(password))
    return 0


if __name__ == "__main__":
    sys.exit(main())
