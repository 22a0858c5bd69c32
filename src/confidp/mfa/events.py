"""Second-factor outcomes for the audit log (confidp.audit): a factor enrolled
(``factor.enrolled``, factor ``totp``, ``webauthn`` or ``recovery_codes``), removed
(``factor.removed``; ``all`` for an operator's reset), and a wrong code
(``signin.failed``, reason ``factor_failed``). A factor that passes is the sign-in driver's
``signin.succeeded`` (its amr says which). What the audit events do not name (a recovery code
used, an operator's or the person's "sign out everywhere") is one JSON line on the
``confidp.mfa`` logger. Never a code, a secret or a credential's key."""

from __future__ import annotations

import json
import logging

from confidp import audit

log = logging.getLogger("confidp.mfa")

FACTOR_ENROLLED = "factor.enrolled"
FACTOR_REMOVED = "factor.removed"
FACTOR_FAILED = "factor.failed"
RECOVERY_CODE_USED = "factor.recovery_code_used"
RECOVERY_CODES_CREATED = "factor.recovery_codes_created"
FACTORS_RESET = "factor.reset"
SESSIONS_REVOKED = "sessions.revoked"
RECOVERY_CODES = "recovery_codes"  # the audit events' factor for the codes
ALL = "all"


def emit(source: audit.Source, event: str, *, tenant: str, subject: str,
         client_id: str | None = None, username: str | None = None,
         method: str | None = None, **fields: str | int | None) -> None:
    if event in (FACTOR_ENROLLED, FACTOR_REMOVED):
        audit.emit(source, event, tenant=tenant, subject=subject, client_id=client_id,
                   factor=method)
    elif event == RECOVERY_CODES_CREATED:
        audit.emit(source, audit.FACTOR_ENROLLED, tenant=tenant, subject=subject,
                   factor=RECOVERY_CODES)
    elif event == FACTORS_RESET:
        audit.emit(source, audit.FACTOR_REMOVED, tenant=tenant, subject=subject, factor=ALL)
    elif event == FACTOR_FAILED:
        audit.emit(source, audit.SIGNIN_FAILED, tenant=tenant, subject=subject,
                   client_id=client_id, reason=audit.FACTOR_FAILED, username=username,
                   factor=method)
    if event not in (FACTOR_ENROLLED, FACTOR_REMOVED, FACTOR_FAILED):
        record = {"event": event, "tenant": tenant, "subject": subject, "method": method,
                  **fields}
        log.info("%s", json.dumps({k: v for k, v in record.items() if v is not None},
                                  separators=(",", ":"), sort_keys=True))
