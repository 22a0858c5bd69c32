"""Which identity sources an application accepts (``applications[].connectors``), and so
what its login page offers: the password form when one of them checks passwords (``local``,
LDAP), one button per upstream connector; and the one connector to go to straight away when
it is the only source (or the request's ``connector`` hint names one it accepts).

Default, when the application lists none: every connector of the tenant, and ``local`` when
the tenant has users or no connectors (a tenant of connectors only shows no empty form).
"""

from __future__ import annotations

from confidp.identity.identity import LOCAL
from confidp.model import Application, Tenant


def accepted_sources(tenant: Tenant, application: Application) -> tuple[str, ...]:
    """The ids of the sources ``application`` accepts, in the login page's order."""
    if application.connectors is not None:
        declared = {connector.id for connector in tenant.connectors}
        return tuple(name for name in application.connectors
                     if name == LOCAL or name in declared)
    local = (LOCAL,) if tenant.users or not tenant.connectors else ()
    return (*local, *(connector.id for connector in tenant.connectors))


def accepts(tenant: Tenant, application: Application, source_id: str) -> bool:
    return source_id in accepted_sources(tenant, application)
