"""Per-tenant signing keys: the one package that imports the JOSE library."""

from confidp.keys.ring import KeyFileError, KeyRing, KeyStore, TokenError

__all__ = ["KeyFileError", "KeyRing", "KeyStore", "TokenError"]
