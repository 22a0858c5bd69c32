"""Per-tenant signing keys: the one package that imports the JOSE library."""

from confidp.keys.ring import KeyRing, KeyStore, TokenError

__all__ = ["KeyRing", "KeyStore", "TokenError"]
