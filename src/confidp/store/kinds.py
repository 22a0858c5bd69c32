"""Every kind of record the store holds, and what its key is (each in a tenant's namespace)."""

PENDING_USED = "pending_used"  # sha256(sealed sign-in request) -> present once it was used
SESSION = "session"  # sha256(session cookie "<tenant>.<random>") -> a login session
CODE = "code"  # sha256(code) -> an authorization code's grant
CODE_USED = "code_used"  # sha256(code) -> what a redeemed code issued (replay detection)
CONSENT = "consent"  # subject, client -> the scopes granted
THROTTLE = "throttle"  # user or ip -> failed logins (counter)
ACCESS = "access"  # jti -> a live access token
REFRESH = "refresh"  # sha256(refresh token) -> the grant it continues
REFRESH_USED = "refresh_used"  # sha256(rotated refresh token) -> its family
# sha256(rotated refresh token) -> its successor, while it may be presented again (its reuse
# interval): written in the step that rotates it, so it expires that long after the step ran
REFRESH_REUSE = "refresh_reuse"
FAMILY = "family"  # id -> a grant family: the refresh token and access tokens of one login
FAMILY_REVOKED = "family_revoked"  # id -> present once the family is revoked (never cleared)
# sha256(subject) -> a person's second factors, sealed (confidp.mfa.store_backed; with the
# memory store they are files in the state directory instead: confidp.mfa.file_store)
ENROLMENT = "enrolment"
ENROLMENT_VERSION = "enrolment_version"  # sha256(subject):version -> claimed by the save
ENROLMENT_LINK = "enrolment_link"  # sha256(name) -> a subject (a WebAuthn user handle's)
TOTP_CANDIDATE = "totp_candidate"  # a sign-in's or account page's key -> the secret shown
TOTP_USED = "totp_used"  # subject, time step -> present once a code of that step was used
RECOVERY_SHOWN = "recovery_shown"  # a sign-in's key -> new recovery codes, until acknowledged
# indexes (sets, Store.add_member): a subject -> their sessions' keys / their families' ids,
# for the account page and "sign out everywhere" (confidp.web.account, confidp sessions revoke)
SESSIONS_OF = "sessions_of"
FAMILIES_OF = "families_of"
# sha256(the state sent upstream) -> a sign-in away at an upstream identity provider (sealed)
UPSTREAM_FLOW = "upstream_flow"
