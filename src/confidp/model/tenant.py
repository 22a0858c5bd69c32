"""The tenant model: what a validated tenant file becomes.

Everything here is frozen and built once per file version by ``confidp.config.build``; lookups a
request needs (client by id, user by username) are precomputed mappings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from confidp.i18n.languages import DEFAULT_LANGUAGE, LANGUAGES
from confidp.model.connector import Connector
from confidp.model.secret import Secret

ClientType = Literal["public", "confidential"]
TokenFormat = Literal["jwt", "opaque"]
JWT_FORMAT: TokenFormat = "jwt"  # an application's access_token_format
OPAQUE_FORMAT: TokenFormat = "opaque"
DEFAULT_SIGNING_ALG = "RS256"  # what every relying party supports (OIDC Discovery §3)
AuthMethod = Literal["none", "client_secret_basic", "client_secret_post"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ClientSecret:
    """Where a confidential client's secret comes from: an argon2id hash, or a plain value read
    from an environment variable or a file at load time."""

    kind: Literal["hash", "env", "file"]
    value: Secret
    source: str  # "hash", "env GLOBEX_SECRET", "file /run/secrets/x": safe to log


@dataclass(frozen=True, slots=True)
class FactorRule:
    """A second-factor rule of an application or a group (tenant file ``factor_rule``): None
    leaves the tenant's as it is (confidp.mfa.policy combines them)."""

    required: bool = False
    methods: frozenset[str] | None = None
    passwordless: bool | None = None


@dataclass(frozen=True, slots=True)
class SecondFactors:
    """The tenant file's ``second_factors`` (built with the schema's defaults)."""

    methods: frozenset[str] = frozenset()
    required: bool = False
    passwordless: bool = False
    user_verification: str = "preferred"
    recent_authentication: int = 0  # seconds
    groups: Mapping[str, FactorRule] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class Application:
    client_id: str
    name: str
    type: ClientType
    token_endpoint_auth_method: AuthMethod
    redirect_uris: frozenset[str]
    post_logout_redirect_uris: frozenset[str]
    scopes: frozenset[str]
    grant_types: frozenset[str]
    require_consent: bool
    id_token_signed_response_alg: str
    client_secret: ClientSecret | None = None
    access_token_format: TokenFormat = JWT_FORMAT
    access_token_signing_alg: str = DEFAULT_SIGNING_ALG  # for access_token_format jwt
    require_pkce: bool = True  # always True for public applications (config rules)
    # shown to people (OpenID Connect Dynamic Client Registration 1.0 §2 names): https URLs,
    # or paths on this server; never a redirect URI
    client_uri: str | None = None  # the application's home page
    initiate_login_uri: str | None = None  # starts a new sign-in at the application
    logo_uri: str | None = None
    policy_uri: str | None = None
    tos_uri: str | None = None
    second_factor: FactorRule | None = None  # None: the tenant's rules only
    # the identity sources it accepts (connector ids, "local"); None: the tenant's default
    # (confidp.identity.choice)
    connectors: tuple[str, ...] | None = None

    @property
    def is_public(self) -> bool:
        return self.type == "public"


@dataclass(frozen=True, slots=True)
class Scope:
    name: str
    description: str
    claims: tuple[str, ...] = ()
    standard: bool = False
    # language -> the description in that language (a custom scope's own translations)
    localized_descriptions: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class User:
    """A person of the tenant file. The standard claims (OpenID Connect Core §5.1) are fields,
    released by the scopes of ``confidp.oauth.scopes``; ``claims`` holds the others."""

    username: str
    password_hash: Secret
    subject: str
    email: str | None = None
    email_verified: bool = False
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    groups: tuple[str, ...] = ()
    claims: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    disabled: bool = False
    middle_name: str | None = None
    nickname: str | None = None
    preferred_username: str | None = None  # None: the username
    profile: str | None = None
    picture: str | None = None
    website: str | None = None
    gender: str | None = None
    birthdate: str | None = None
    zoneinfo: str | None = None
    locale: str | None = None
    updated_at: int | None = None  # seconds since 1970
    phone_number: str | None = None
    phone_number_verified: bool = False
    address: Mapping[str, str] | None = None  # OpenID Connect Core §5.1.1 members


@dataclass(frozen=True, slots=True)
class Theme:
    name: str
    title: str
    logo_url: str | None
    colors: Mapping[str, str]  # the light (or only) scheme's
    dark_colors: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    favicon_url: str | None = None


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """All in seconds."""

    authorization_code: int
    access_token: int
    id_token: int
    refresh_token_idle: int
    refresh_token_absolute: int
    refresh_token_reuse_interval: int  # 0: off (confidp.oauth.grants.refresh_token)
    session_idle: int
    session_absolute: int
    login: int


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    max_failures_per_user: int
    max_failures_per_ip: int
    window: int  # seconds


@dataclass(frozen=True, slots=True)
class Languages:
    """The languages a tenant's pages are shown in (shipped catalogues, in the tenant's
    order) and the one used when the request prefers none of them."""

    supported: tuple[str, ...]
    default: str


@dataclass(frozen=True, slots=True)
class Links:
    """Links shown on the tenant's pages when set: https URLs or paths on this server."""

    account_recovery: str | None = None
    help: str | None = None


ALL_LANGUAGES = Languages(LANGUAGES, DEFAULT_LANGUAGE)


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    source: str
    issuer: str
    issuer_host: str  # lower-case host[:port], default port dropped
    issuer_path: str  # "" or "/acme": no trailing slash
    display_name: str
    theme: Theme
    lifetimes: Lifetimes
    login_throttle: LoginThrottle
    applications: Mapping[str, Application]
    scopes: Mapping[str, Scope]  # standard and custom, by name
    users: Mapping[str, User]  # by case-folded username
    secure: bool  # issuer is https: cookies get the Secure flag
    users_by_subject: Mapping[str, User] = field(default_factory=lambda: _EMPTY)
    languages: Languages = ALL_LANGUAGES
    # language -> msgid -> the tenant's text (one text per plural form for a plural message)
    messages: Mapping[str, Mapping[str, str | tuple[str, ...]]] = field(
        default_factory=lambda: _EMPTY)
    links: Links = field(default_factory=Links)
    # built from the tenant file (confidp.config.build), its defaults the schema's
    second_factors: SecondFactors = field(default_factory=SecondFactors)
    # every algorithm an application signs its ID or access tokens with (the JWKS has keys
    # of each)
    signing_algorithms: frozenset[str] = frozenset({DEFAULT_SIGNING_ALG})
    connectors: tuple[Connector, ...] = ()  # in the file's order: the login page's buttons

    def connector(self, connector_id: str) -> Connector | None:
        return next((c for c in self.connectors if c.id == connector_id), None)

    def application(self, client_id: str) -> Application | None:
        return self.applications.get(client_id)

    def user(self, username: str) -> User | None:
        return self.users.get(username.casefold())

    def active_user(self, subject: str) -> User | None:
        """The user with this subject, unless removed from the tenant file or disabled."""
        user = self.users_by_subject.get(subject)
        return None if user is None or user.disabled else user
