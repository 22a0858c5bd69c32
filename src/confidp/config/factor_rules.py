"""Rules for ``second_factors`` and ``applications[].second_factor`` beyond the schema
(confidp.mfa.policy combines them at sign-in): an application or a group may only narrow the
tenant's methods, and passwordless sign-in needs WebAuthn among the methods allowed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from confidp.config.errors import Problem
from confidp.config.schema import defaults

WEBAUTHN = "webauthn"  # confidp.mfa.factors.WEBAUTHN (config does not import the flows)


def check_second_factors(document: Mapping[str, Any], context: object) -> Iterator[Problem]:
    given = document.get("second_factors", {})
    spec = {**defaults("second_factors"), **given}
    tenant_methods = set(spec["methods"])

    def narrower(methods: list[str] | None, where: tuple[str | int, ...]) -> Iterator[Problem]:
        extra = sorted(set(methods or ()) - tenant_methods)
        if extra:
            yield Problem((*where, "methods"), f"{', '.join(extra)} is not among the tenant's "
                          f"second_factors.methods ({', '.join(sorted(tenant_methods))}): "
                          "an application or group can only narrow them")

    if spec["passwordless"] and WEBAUTHN not in tenant_methods:
        yield Problem(("second_factors", "passwordless"), "passwordless sign-in uses passkeys: "
                      "add webauthn to second_factors.methods, or set passwordless: false")
    for name, rule in spec["groups"].items():
        yield from narrower(rule.get("methods"), ("second_factors", "groups", name))
        if "passwordless" in rule:
            yield Problem(("second_factors", "groups", name, "passwordless"),
                          "passwordless is set per tenant or per application, not per group "
                          "(a group is known only once the person is identified)",
                          at_key=True)
    for index, app in enumerate(document.get("applications", [])):
        rule = app.get("second_factor")
        if rule is None:
            continue
        where = ("applications", index, "second_factor")
        yield from narrower(rule.get("methods"), where)
        methods = set(rule.get("methods") or tenant_methods)
        if rule.get("passwordless") and WEBAUTHN not in methods:
            yield Problem((*where, "passwordless"), "passwordless sign-in uses passkeys: "
                          "allow webauthn for this application, or set passwordless: false")


FACTOR_RULES = (check_second_factors,)
