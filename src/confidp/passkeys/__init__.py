"""WebAuthn (W3C Web Authentication Level 2) and passkeys, through py_webauthn: the relying
party a tenant is (``relying_party``), the single-use challenges bound to one sign-in or one
session (``challenges``), the two ceremonies' options and verification (``ceremonies``) and
the credentials a person registered (``credentials``). Framework-free: the sign-in steps and
the account page (``confidp.web.signin.passkey``, ``confidp.web.passkeys``) call them."""
