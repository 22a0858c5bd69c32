"""The last second-factor step: a sign-in that still demands a factor when every other
factor step had its turn (the person has no allowed method and can enrol none here) is
refused, never let through (fail closed)."""

from __future__ import annotations

from sanic import HTTPResponse

from confidp.oauth.errors import InteractionRequired, OAuthError, SecondFactorUnavailable
from confidp.web.signin.factor import factor_demand, log
from confidp.web.signin.steps import Outcome, SignIn, Stage


class FactorGuardStep:
    name = "factor-required"
    stage = Stage.FACTOR
    path = "/factor/unavailable"

    async def needed(self, sign_in: SignIn) -> bool:
        return await factor_demand(sign_in) is not None

    def interaction_required(self) -> OAuthError:
        return InteractionRequired("A second factor is required.")

    async def show(self, sign_in: SignIn) -> HTTPResponse:
        demand = await factor_demand(sign_in)
        log.warning("tenant %s: a sign-in of %s to %s needs a second factor and none of the "
                    "methods allowed (%s) can be used or enrolled", sign_in.tenant.id,
                    demand.identity.subject if demand else "?", sign_in.application.client_id,
                    ", ".join(sorted(demand.policy.methods)) if demand else "")
        raise SecondFactorUnavailable()

    async def submit(self, sign_in: SignIn) -> Outcome:
        return await self.show(sign_in)
