"""``ldap`` connectors in a tenant file: the schema branch and its defaults, the bind
password by reference only, encryption required off this machine, filters checked at load."""

from __future__ import annotations

from typing import Any

import yaml

from confidp.config.loader import validate_file
from confidp.identity.ldap import LdapSource
from confidp.identity.registry import Sources
from tests.support import REPO, dump, tenant_doc

SECRET = "bind-secret-never-shown"


def ldap(**overrides: Any) -> dict[str, Any]:
    return {"id": "corp-ldap", "type": "ldap", "url": "ldaps://ldap.example.com",
            "bind_dn": "cn=confidp,ou=services,dc=example,dc=com",
            "bind_password": {"env": "LDAP_BIND"},
            "user_search": {"base_dn": "ou=people,dc=example,dc=com"}, **overrides}


def load(*connectors: dict[str, Any], environ: dict[str, str] | None = None) -> Any:
    document = tenant_doc("https://id.example.com", connectors=list(connectors))
    return validate_file("acme.yaml", dump(document), themes=None,
                         environ={"LDAP_BIND": SECRET} if environ is None else environ)


def messages(*connectors: dict[str, Any]) -> list[str]:
    result = load(*connectors)
    return [str(e) for e in [*result.errors, *result.warnings]]


def test_loads_with_the_schema_s_defaults() -> None:
    result = load(ldap(group_search={"base_dn": "ou=groups,dc=example,dc=com"}))
    assert result.ok, result.errors
    [connector] = result.tenant.connectors
    assert "bind_password" not in connector.settings
    source = Sources().of(result.tenant).get("corp-ldap")
    assert isinstance(source, LdapSource)
    settings = source.settings
    assert (settings.host, settings.port, settings.use_ssl, settings.start_tls) == (
        "ldap.example.com", 636, True, False)
    assert settings.bind_password.reveal() == SECRET
    assert (settings.connect_timeout, settings.timeout, settings.max_concurrent,
            settings.revalidate_interval) == (5.0, 10.0, 8, 0)
    search = settings.user_search
    assert (search.filter, search.scope, search.username_attributes, search.id_attribute,
            search.email_attribute, search.name_attribute,
            search.preferred_username_attribute, search.email_verified) == (
        "(objectClass=person)", "sub", ("uid",), "entryUUID", "mail", "cn", "uid", False)
    groups = settings.group_search
    assert groups is not None
    assert (groups.filter, groups.name_attribute, [(m.user_attribute, m.group_attribute)
                                                   for m in groups.user_matchers]) == (
        "(objectClass=groupOfNames)", "cn", [("DN", "member")])
    assert source.display_name == "corp-ldap"  # the name defaults to the id


def test_the_preferred_username_is_the_first_username_attribute_by_default() -> None:
    result = load(ldap(user_search={"base_dn": "dc=x", "username": ["sAMAccountName",
                                                                     "userPrincipalName"]}))
    source = Sources().of(result.tenant).get("corp-ldap")
    assert isinstance(source, LdapSource)
    assert source.settings.user_search.preferred_username_attribute == "sAMAccountName"


def test_the_bind_password_is_a_reference_never_inline() -> None:
    [error] = messages(ldap(bind_password=SECRET))
    assert "plaintext secret" in error and SECRET not in error
    result = load(ldap(), environ={})
    assert any("LDAP_BIND is not set" in str(e) for e in result.errors)


def test_passwords_never_cross_a_network_unencrypted() -> None:
    [error] = messages(ldap(url="ldap://ldap.example.com"))
    assert "unencrypted" in error and "start_tls" in error
    assert messages(ldap(url="ldap://ldap.example.com", start_tls=True)) == []
    # allow_plaintext does not help off this machine
    [error] = messages(ldap(url="ldap://ldap.example.com", allow_plaintext=True))
    assert "unencrypted" in error
    [error] = messages(ldap(url="ldap://127.0.0.1:3389"))
    assert "allow_plaintext: true" in error
    assert messages(ldap(url="ldap://127.0.0.1:3389", allow_plaintext=True)) == []
    [warning] = messages(ldap(url="ldap://localhost:3389", allow_plaintext=True))
    assert "warning" in warning and "127.0.0.1" in warning
    [error] = messages(ldap(start_tls=True))  # ldaps:// is TLS already
    assert "StartTLS upgrades an ldap:// connection" in error


def test_urls_and_filters_are_checked_when_the_file_loads() -> None:
    assert messages(ldap(url="https://ldap.example.com"))  # not ldap(s)://
    assert messages(ldap(url="ldaps://ldap.example.com:99999"))
    errors = messages(ldap(user_search={"base_dn": "dc=x", "filter": "(&(a=b)"},
                           group_search={"base_dn": "dc=x", "filter": "(a=b)(c=d)"}))
    assert any("user_search.filter" in e and "not an LDAP filter" in e for e in errors)
    assert any("group_search.filter" in e and "not an LDAP filter" in e for e in errors)
    assert messages(ldap(user_search={"base_dn": "dc=x", "filter": "objectClass=person"}))


def test_unknown_keys_and_missing_ones() -> None:
    assert any("unknown key 'bindPW'" in e for e in messages(ldap(bindPW="x")))
    spec = ldap()
    del spec["user_search"]
    assert any("user_search" in e for e in messages(spec))


def test_a_group_attribute_may_carry_a_matching_rule_and_nothing_else() -> None:
    def groups(attribute: str) -> dict[str, Any]:
        return {"base_dn": "dc=x", "user_matchers": [{"user_attribute": "DN",
                                                      "group_attribute": attribute}]}
    assert messages(ldap(group_search=groups("member:1.2.840.113556.1.4.1941:"))) == []
    assert messages(ldap(group_search=groups("member)(uid=*")))
    assert messages(ldap(group_search=groups("member:=")))


def test_the_readme_s_ldap_examples_load() -> None:
    """The OpenLDAP and Active Directory examples a user would copy are valid as written."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("### `ldap`", 1)[1].split("\n### ", 1)[0]
    blocks = [block.split("```", 1)[0] for block in section.split("```yaml\n")[1:]]
    assert len(blocks) == 2
    for block in blocks:
        connectors = yaml.safe_load(block)["connectors"]
        document = tenant_doc("https://id.example.com", connectors=connectors)
        result = validate_file("acme.yaml", dump(document), themes=None, environ=None)
        assert result.ok, [str(e) for e in result.errors]
        assert [c.type for c in result.tenant.connectors] == ["ldap"]
