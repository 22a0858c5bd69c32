"""confidp: a declarative, config-driven OAuth 2.0 / OpenID Connect identity provider."""

__version__ = "0.1.0"
