"""The WebAuthn relying party a tenant is (WebAuthn L2 §5.1.4.1 "RP ID", §13.4.9 "origin").

The rule: the RP ID is the host of the tenant's issuer, without its port (``https://id.example.com/acme``
→ ``id.example.com``; ``http://localhost:8000/acme`` → ``localhost``), and the only origin
accepted in a response's client data is the issuer's origin (scheme, host and port:
``http://localhost:8000``). Tenants that share a host share the RP ID, so a browser may offer a
passkey made for one of them on the other's page: every credential is looked up in the
tenant's own enrolments, and one of another tenant is refused as unknown.

An issuer whose host is an IP address (``http://127.0.0.1:8000``) has no RP ID: WebAuthn
accepts only domains (browsers refuse an IP address as RP ID), so such a tenant offers no
passkeys. ``localhost`` works over plain http: browsers treat ``http://localhost`` as a secure
context. Any other issuer must be https for a browser to run a ceremony at all.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from confidp.model import Tenant


@dataclass(frozen=True, slots=True)
class RelyingParty:
    id: str  # the RP ID: a domain, hashed into every authenticator response
    origin: str  # the one origin client data may name
    name: str  # shown by some authenticators while registering


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def relying_party(tenant: Tenant) -> RelyingParty | None:
    """``tenant`` as a WebAuthn relying party, or None when its issuer's host is an IP
    address (no RP ID possible)."""
    parts = urlsplit(tenant.issuer)
    host = (parts.hostname or "").lower().rstrip(".")
    if not host or _is_ip_address(host):
        return None
    return RelyingParty(id=host, origin=f"{parts.scheme}://{tenant.issuer_host}",
                        name=tenant.display_name)
