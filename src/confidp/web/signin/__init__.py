"""Sign-in steps (``steps``: the state machine and its driver) and confidp's own: the
password form, upstream identity providers and consent. ``STEPS`` registers them: a new step
is a module here and a line below."""

from confidp.web.signin.consent import ConsentStep
from confidp.web.signin.factor_guard import FactorGuardStep
from confidp.web.signin.passkey import PasskeyFactorStep, PasskeySignInStep
from confidp.web.signin.password import PasswordStep
from confidp.web.signin.recovery_codes import RecoveryCodesStep
from confidp.web.signin.steps import Steps
from confidp.web.signin.totp import CodeStep, TotpEnrolStep
from confidp.web.signin.upstream import STEP as UPSTREAM_STEP

STEPS = Steps((
    UPSTREAM_STEP,  # before the login page: a sign-in that goes straight to one connector
    PasskeySignInStep(),  # a form on the login page: before the password, which it replaces
    PasswordStep(),
    # second factors (Stage.FACTOR), in this order: a factor the person has (a passkey first:
    # it cannot be phished; its page offers the code step instead), then setting one up,
    # then the codes made at the setup, and last the guard that refuses a sign-in whose
    # demand for a factor none of them answered
    PasskeyFactorStep(),
    CodeStep(),
    TotpEnrolStep(),
    RecoveryCodesStep(),
    FactorGuardStep(),
    ConsentStep(),
))
