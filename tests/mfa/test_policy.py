"""The second-factor policy: the tenant file's keys, their rules, and how they combine."""

from __future__ import annotations

from typing import Any

from confidp.config.loader import validate_file
from confidp.mfa.policy import policy_for
from confidp.model import Tenant
from tests.support import dump, tenant_doc

THEMES = frozenset({"default", "midnight"})


def app(client_id: str, **overrides: Any) -> dict[str, Any]:
    return {"client_id": client_id, "name": client_id.title(), "type": "public",
            "redirect_uris": ["https://web.example.com/cb"], "scopes": ["openid"], **overrides}


def build(**overrides: Any) -> Tenant:
    result = validate_file("acme.yaml", dump(tenant_doc("https://id.example.com", **overrides)),
                           themes=THEMES, environ={})
    assert result.errors == [], [e.message for e in result.errors]
    assert result.tenant is not None
    return result.tenant


def errors(**overrides: Any) -> list[str]:
    result = validate_file("acme.yaml", dump(tenant_doc("https://id.example.com", **overrides)),
                           themes=THEMES, environ={})
    return [f"{e.path}: {e.message}" for e in result.errors]


def test_defaults_both_methods_nothing_required() -> None:
    tenant = build(applications=[app("web")])
    policy = policy_for(tenant, tenant.applications["web"], ["staff"])
    assert policy.methods == {"totp", "webauthn"}
    assert not policy.required and not policy.passwordless
    assert policy.user_verification == "preferred"
    assert policy.recent_authentication == 600


def test_an_application_or_a_group_adds_a_requirement_and_narrows_methods() -> None:
    tenant = build(
        applications=[app("billing", second_factor={"required": True}),
                      app("web"), app("ops", second_factor={"methods": ["webauthn"]})],
        second_factors={"groups": {"admins": {"required": True, "methods": ["totp"]}}})
    billing, web, ops = (tenant.applications[c] for c in ("billing", "web", "ops"))
    assert policy_for(tenant, billing, []).required
    assert not policy_for(tenant, web, ["staff"]).required
    admin_web = policy_for(tenant, web, ["staff", "admins"])
    assert admin_web.required and admin_web.methods == {"totp"}
    assert policy_for(tenant, ops, []).methods == {"webauthn"}
    assert policy_for(tenant, ops, ["admins"]).methods == frozenset()  # nothing left
    assert policy_for(tenant, None, ["admins"]).required  # the account page: tenant + groups


def test_a_group_never_lifts_a_requirement() -> None:
    tenant = build(applications=[app("web")], second_factors={
        "required": True, "groups": {"guests": {"required": False}}})
    assert policy_for(tenant, tenant.applications["web"], ["guests"]).required


def test_passwordless_needs_webauthn_and_requires_user_verification() -> None:
    tenant = build(applications=[app("web"), app("legacy", second_factor={
        "passwordless": False}), app("kiosk", second_factor={"methods": ["totp"]})],
        second_factors={"passwordless": True})
    web = policy_for(tenant, tenant.applications["web"])
    assert web.passwordless and web.user_verification == "required"
    assert not policy_for(tenant, tenant.applications["legacy"]).passwordless
    assert not policy_for(tenant, tenant.applications["kiosk"]).passwordless


def test_rules_beyond_the_schema() -> None:
    assert errors(second_factors={"methods": ["totp"], "passwordless": True}) == [
        "$.second_factors.passwordless: passwordless sign-in uses passkeys: add webauthn to "
        "second_factors.methods, or set passwordless: false"]
    found = errors(second_factors={"methods": ["totp"],
                                   "groups": {"admins": {"methods": ["webauthn"]}}},
                   applications=[app("web", second_factor={"methods": ["webauthn", "totp"]})])
    assert any("$.second_factors.groups.admins.methods: webauthn is not among the tenant's"
               in e for e in found), found
    assert any("$.applications[0].second_factor.methods: webauthn is not among" in e
               for e in found), found
    assert any("passwordless is set per tenant or per application" in e for e in errors(
        second_factors={"groups": {"admins": {"passwordless": True}}}))
    assert any("allow webauthn for this application" in e for e in errors(
        applications=[app("web", second_factor={"methods": ["totp"], "passwordless": True})]))


def test_schema_refuses_unknown_methods_and_keys() -> None:
    assert errors(second_factors={"methods": ["sms"]})
    assert errors(second_factors={"required": "yes"})
    assert errors(second_factors={"methods": []})
    assert errors(applications=[app("web", second_factor={"reqired": True})])
