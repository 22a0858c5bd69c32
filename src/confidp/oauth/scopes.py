"""Standard scopes and the claims they release (OpenID Connect Core 1.0 §5.4, §5.1).

``groups`` is not an OpenID Connect scope; confidp defines it (as Dex does) so that group
membership is released only when an application asks for it.
"""

from __future__ import annotations

from types import MappingProxyType

OPENID = "openid"
OFFLINE_ACCESS = "offline_access"

# OpenID Connect Core §5.4: the claims the profile scope requests
PROFILE_CLAIMS = ("name", "family_name", "given_name", "middle_name", "nickname",
                  "preferred_username", "profile", "picture", "website", "gender", "birthdate",
                  "zoneinfo", "locale", "updated_at")

# scope -> (description shown on the consent page, claims it releases)
STANDARD_SCOPES: MappingProxyType[str, tuple[str, tuple[str, ...]]] = MappingProxyType({
    "openid": ("Sign you in", ("sub",)),
    "profile": ("Your name, username and profile details", PROFILE_CLAIMS),
    "email": ("Your email address", ("email", "email_verified")),
    "address": ("Your postal address", ("address",)),
    "phone": ("Your phone number", ("phone_number", "phone_number_verified")),
    "groups": ("Your group memberships", ("groups",)),
    "offline_access": ("Stay signed in to the application when you are away", ()),
})

# Claims confidp sets itself, from the protocol (RFC 7519 §4.1, OIDC Core §2, RFC 9068 §2.2)
# or from a dedicated user field: a custom scope or a user's free claims may not set them.
RESERVED_CLAIMS = frozenset({
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "auth_time", "nonce", "acr", "amr", "azp",
    "at_hash", "c_hash", "s_hash", "sid", "scope", "client_id", "cnf", "typ",
    *PROFILE_CLAIMS, "email", "email_verified", "address", "phone_number",
    "phone_number_verified", "groups",
})
