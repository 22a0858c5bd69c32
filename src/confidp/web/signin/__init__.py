"""Sign-in steps (``steps``: the state machine and its driver) and confidp's own: the
password form, upstream identity providers and consent. ``STEPS`` registers them: a new step
is a module here and a line below."""

from confidp.web.signin.consent import ConsentStep
from confidp.web.signin.password import PasswordStep
from confidp.web.signin.steps import Steps
from confidp.web.signin.upstream import STEP as UPSTREAM_STEP

STEPS = Steps((
    UPSTREAM_STEP,  # before the login page: a sign-in that goes straight to one connector
    PasswordStep(),
    ConsentStep(),
))
