"""Authentication context classes (OpenID Connect Core §2 ``acr``, §3.1.2.1 ``acr_values``)
and methods (RFC 8176 ``amr``).

confidp defines two classes, listed in discovery as ``acr_values_supported``:

- ``urn:confidp:acr:1fa``: one factor (a password, or an upstream provider's sign-in);
- ``urn:confidp:acr:2fa``: a second factor too (TOTP, a recovery code, a security key), or a
  passkey with user verification (possession + inherence/knowledge).

The class of a sign-in follows from its ``amr``: ``mfa`` in it means 2fa. A client asks for a
second factor for one request (step-up) with ``acr_values=urn:confidp:acr:2fa``: the values
are the client's acceptable classes in order of preference, so a request that also lists 1fa
is satisfied by one factor. Values confidp does not define are ignored (acr is a voluntary
claim, §5.5.1.1). A refresh keeps the class of the sign-in it continues: never upgraded.
"""

from __future__ import annotations

ACR_1FA = "urn:confidp:acr:1fa"
ACR_2FA = "urn:confidp:acr:2fa"
ACR_VALUES_SUPPORTED = (ACR_1FA, ACR_2FA)
MAX_ACR_VALUES = 10  # of the request's values, the first this many are looked at

# RFC 8176 §2 values confidp uses
AMR_PASSWORD = "pwd"  # noqa: S105 - an amr value, not a password
AMR_OTP = "otp"  # a one-time password: a TOTP code, or a recovery code
AMR_HARDWARE_KEY = "hwk"  # a WebAuthn credential bound to its device
AMR_SOFTWARE_KEY = "swk"  # a synced passkey
AMR_MULTIPLE_FACTORS = "mfa"
AMR_FEDERATED = "fed"


def known_acr_values(text: str | None) -> tuple[str, ...]:
    """The ``acr_values`` parameter's values that confidp defines, in the client's order."""
    if not text:
        return ()
    values = text.split(" ")[:MAX_ACR_VALUES]
    return tuple(dict.fromkeys(v for v in values if v in ACR_VALUES_SUPPORTED))


def demands_second_factor(acr_values: tuple[str, ...]) -> bool:
    """Whether the request accepts only two-factor sign-ins (step-up)."""
    return ACR_2FA in acr_values and ACR_1FA not in acr_values


def acr_of(amr: tuple[str, ...]) -> str:
    return ACR_2FA if AMR_MULTIPLE_FACTORS in amr else ACR_1FA


def with_second_factor(amr: tuple[str, ...], method: str) -> tuple[str, ...]:
    """``amr`` after a second factor of ``method`` passed: the method, and ``mfa``."""
    added = [value for value in (method, AMR_MULTIPLE_FACTORS) if value not in amr]
    return (*amr, *added)
