"""Sign-in steps (``steps``: the state machine and its driver) and confidp's own: the
password form and consent. ``STEPS`` registers them: a new step is a module here and a line
below."""

from confidp.web.signin.consent import ConsentStep
from confidp.web.signin.factor_guard import FactorGuardStep
from confidp.web.signin.password import PasswordStep
from confidp.web.signin.recovery_codes import RecoveryCodesStep
from confidp.web.signin.steps import Steps
from confidp.web.signin.totp import CodeStep, TotpEnrolStep

STEPS = Steps((
    PasswordStep(),
    # second factors (Stage.FACTOR), in this order: a factor the person has, then setting one
    # up, then the codes made at the setup, and last the guard that refuses a sign-in whose
    # demand for a factor none of them answered (WebAuthn's steps go before the guard)
    CodeStep(),
    TotpEnrolStep(),
    RecoveryCodesStep(),
    FactorGuardStep(),
    ConsentStep(),
))
