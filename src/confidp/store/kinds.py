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
# sha256(the state sent upstream) -> a sign-in away at an upstream identity provider (sealed)
UPSTREAM_FLOW = "upstream_flow"
