"""Process settings: command-line flags, each with a CONFIDP_* environment variable."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from confidp.model import Secret


@dataclass(frozen=True, slots=True)
class Settings:
    tenants_dir: Path = Path("tenants")
    themes_dir: Path | None = None  # None: the built-in default theme only
    host: str = "localhost"
    port: int = 8000
    ops_host: str = "localhost"  # the operations listener: /healthz, /readyz, /status, /metrics
    ops_port: int = 9080
    state_dir: Path = Path("state")
    reload_poll: bool = False
    trust_proxy: bool = False
    status_token: Secret | None = None
    log_level: str = "INFO"
    store: str = "memory"  # or redis://host:port/db
    workers: int = 1
    access_log: bool = False
    shutdown_delay: float = 0.0  # seconds between SIGTERM (unready at once) and closing
    log_format: str = "text"  # or "json": every log line, Sanic's own included (confidp.logs)
    audit: bool = True  # write audit events (confidp.audit); they are counted in any case
    audit_log: Path | None = None  # None: audit events go to the log; else appended here
    request_metrics: bool = True  # the HTTP duration histogram (off only to measure its cost)
    tenant_cache: bool = True  # keep validated tenants for the next start (tenant_cache)
    cache_dir: Path | None = None  # where; None: <state_dir>/cache
