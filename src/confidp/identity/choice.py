"""Which identity sources an application accepts (``applications[].connectors``), and so
what its login page offers: the password form when one of them checks passwords (``local``,
LDAP), one button per upstream connector; and the one connector to go to straight away when
it is the only source (or the request's ``connector`` hint names one it accepts).

Default, when the application lists none: every source of the tenant, except ``local`` when
the tenant has no users but has other sources (no empty password form is shown).
"""

from __future__ import annotations

from collections.abc import Sequence

from confidp.identity.identity import LOCAL
from confidp.model import Application, Tenant


def accepted_sources(tenant: Tenant, application: Application,
                     source_ids: Sequence[str]) -> tuple[str, ...]:
    """The ids of the tenant's sources (``source_ids``, in order) ``application`` accepts."""
    if application.connectors is not None:
        return tuple(name for name in source_ids if name in application.connectors)
    others = [name for name in source_ids if name != LOCAL]
    if not tenant.users and others:
        return tuple(others)
    return tuple(source_ids)
