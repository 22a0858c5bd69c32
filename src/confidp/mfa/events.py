"""Second-factor events for the audit log: one line each on the ``confidp.audit`` logger
(enrolled, removed, failed, recovery code used, recovery codes made, reset by an operator,
sessions revoked), with the tenant, the subject, the method and the client IP; never a code,
a secret or a credential's key."""

from __future__ import annotations

import json
import logging

log = logging.getLogger("confidp.audit")

FACTOR_ENROLLED = "factor.enrolled"
FACTOR_REMOVED = "factor.removed"
FACTOR_FAILED = "factor.failed"
FACTOR_PASSED = "factor.passed"
RECOVERY_CODE_USED = "factor.recovery_code_used"
RECOVERY_CODES_CREATED = "factor.recovery_codes_created"
FACTORS_RESET = "factor.reset"
SESSIONS_REVOKED = "sessions.revoked"


def emit(event: str, *, tenant: str, subject: str, **fields: str | int | None) -> None:
    """One JSON object per line, after the logger's own prefix."""
    record = {"event": event, "tenant": tenant, "subject": subject,
              **{name: value for name, value in fields.items() if value is not None}}
    log.info("%s", json.dumps(record, separators=(",", ":"), sort_keys=True))
