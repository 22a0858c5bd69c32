"""What ``confidp hash-password`` accepts: NIST SP 800-63B-4 §3.1.1.2 (password verifiers).

- At least ``MIN_LENGTH`` (8) characters, counted as Unicode code points (§3.1.1.2: "each
  Unicode code point SHALL be counted as a single character"); 8 is the floor the guideline
  sets for any password. A password that is the only factor SHALL have at least 15
  (``RECOMMENDED_LENGTH``): shorter ones are hashed with a warning, since a tenant may add a
  second factor.
- At most ``MAX_LENGTH`` (1024) characters, the most the login form accepts, so every hash
  made can be signed in with (the guideline asks to permit at least 64).
- No composition rules (§3.1.1.2: verifiers SHALL NOT impose them).

Client secrets are hashed by the same command under the same rules; they should be long
random strings (RFC 6819 §5.1.4.2.2), not chosen by a person.
"""

from __future__ import annotations

MIN_LENGTH = 8
RECOMMENDED_LENGTH = 15
MAX_LENGTH = 1024


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be hashed, or None."""
    if not password:
        return "the password is empty"
    if len(password) < MIN_LENGTH:
        return (f"the password is {len(password)} character(s) long; use at least "
                f"{MIN_LENGTH} (NIST SP 800-63B), better {RECOMMENDED_LENGTH} or more")
    if len(password) > MAX_LENGTH:
        return (f"the password is longer than {MAX_LENGTH} characters, the most the login "
                "form accepts")
    return None


def password_warning(password: str) -> str | None:
    """Advice for a password that is accepted but short for a single factor, or None."""
    if len(password) < RECOMMENDED_LENGTH:
        return (f"the password has fewer than {RECOMMENDED_LENGTH} characters: NIST SP "
                "800-63B-4 asks for at least 15 when the password is the only factor")
    return None
