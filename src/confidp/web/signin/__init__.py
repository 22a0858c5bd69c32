"""Sign-in steps (``steps``: the state machine and its driver) and confidp's own: the
password form and consent. ``STEPS`` registers them: a new step is a module here and a line
below."""

from confidp.web.signin.consent import ConsentStep
from confidp.web.signin.passkey import PasskeyFactorStep, PasskeySignInStep
from confidp.web.signin.password import PasswordStep
from confidp.web.signin.steps import Steps

STEPS = Steps((
    PasskeySignInStep(),  # a form on the login page: before the password, which it replaces
    PasswordStep(),
    PasskeyFactorStep(),
    ConsentStep(),
))
