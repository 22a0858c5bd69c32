"""New recovery codes, shown once ({issuer}/factor/recovery-codes): after a person enrolled
their first factor in a sign-in, the codes made for them are shown on a page of their own
before the sign-in goes on, and then never again (only their digests are kept).

Between the enrolment and that page the codes wait in the store, sealed (confidp.sealing),
under the sign-in's key, for at most the sign-in's lifetime; acknowledging the page deletes
them."""

from __future__ import annotations

import json

from sanic import HTTPResponse

from confidp.context import AppRequest
from confidp.oauth.errors import InteractionRequired, OAuthError
from confidp.store.kinds import RECOVERY_SHOWN
from confidp.store.tenant import TenantStore
from confidp.web.pages import page
from confidp.web.signin.factor import signing_identity
from confidp.web.signin.steps import Outcome, Passed, SignIn, Stage

PURPOSE = b"confidp recovery codes to show"


async def keep_to_show(request: AppRequest, store: TenantStore, key: str,
                       codes: tuple[str, ...], ttl: float) -> None:
    sealed = request.app.ctx.sealer.seal(json.dumps(list(codes)).encode(), PURPOSE)
    await store.put(RECOVERY_SHOWN, key, {"sealed": sealed}, max(1.0, ttl))


async def codes_to_show(request: AppRequest, store: TenantStore,
                        key: str) -> tuple[str, ...] | None:
    record = await store.get(RECOVERY_SHOWN, key)
    if record is None:
        return None
    data = request.app.ctx.sealer.unseal(str(record.get("sealed", "")), PURPOSE)
    return tuple(json.loads(data)) if data is not None else None


class RecoveryCodesStep:
    name = "recovery-codes"
    stage = Stage.FACTOR
    path = "/factor/recovery-codes"

    async def needed(self, sign_in: SignIn) -> bool:
        if signing_identity(sign_in) is None:
            return False
        return await sign_in.store.get(RECOVERY_SHOWN, sign_in.pending.used_key) is not None

    def interaction_required(self) -> OAuthError:
        return InteractionRequired("New recovery codes must be shown.")

    async def show(self, sign_in: SignIn) -> HTTPResponse:
        codes = await codes_to_show(sign_in.request, sign_in.store, sign_in.pending.used_key)
        return page(sign_in.request, sign_in.tenant, sign_in.snapshot, "recovery_codes.html",
                    page_title="Save your recovery codes",
                    action=f"{sign_in.tenant.issuer_path}{self.path}",
                    request_id=sign_in.pending.sealed, csrf_token=sign_in.pending.csrf_token,
                    codes=codes or ())

    async def submit(self, sign_in: SignIn) -> Outcome:
        await sign_in.store.delete(RECOVERY_SHOWN, sign_in.pending.used_key)
        return Passed()
