"""What a tenant file puts on its pages: languages, message overrides, links. Checked when
the file is loaded (and by ``confidp check``), so that a page never meets a bad value."""

from __future__ import annotations

from typing import Any

import pytest

from confidp.config.loader import validate_file
from confidp.config.page_rules import page_link_problem
from confidp.model import Tenant
from tests.support import dump, tenant_doc

THROTTLE = "Too many failed sign-in attempts. Try again in %(num)d minute."


def load(**keys: Any) -> tuple[Tenant | None, list[str]]:
    result = validate_file("acme.yaml", dump(tenant_doc("https://id.example.com", **keys)),
                           themes=frozenset({"default"}), environ={})
    return result.tenant, [f"{e.path}: {e.message}" for e in result.errors]


def errors(**keys: Any) -> list[str]:
    return load(**keys)[1]


def test_defaults_every_shipped_language_and_english() -> None:
    tenant, problems = load()
    assert not problems and tenant is not None
    assert tenant.languages.supported == ("en", "de", "fr", "es", "ja", "ar")
    assert tenant.languages.default == "en"
    assert tenant.links.help is None and tenant.messages == {}


def test_languages_and_overrides_build_the_model() -> None:
    tenant, problems = load(
        languages={"supported": ["de", "en"], "default": "de"},
        messages={"de": {"Sign in": "Bei Acme anmelden",
                         THROTTLE: ["Eine Minute warten.", "%(num)d Minuten warten."]}},
        links={"help": "https://acme.example/help", "account_recovery": "/acme/reset"})
    assert not problems and tenant is not None
    assert tenant.languages.supported == ("de", "en") and tenant.languages.default == "de"
    assert tenant.messages["de"]["Sign in"] == "Bei Acme anmelden"
    assert tenant.messages["de"][THROTTLE] == ("Eine Minute warten.", "%(num)d Minuten warten.")
    assert tenant.links.account_recovery == "/acme/reset"


def test_the_default_language_must_be_supported() -> None:
    assert errors(languages={"supported": ["de", "fr"]}) == [
        "$.languages: the default language 'en' is not among supported (de, fr): add it, or "
        "set default to one of them"]
    assert errors(languages={"supported": ["de"], "default": "ja"})[0].startswith(
        "$.languages.default: the default language 'ja'")


def test_only_shipped_languages() -> None:
    assert any("languages.supported[1]" in e for e in errors(
        languages={"supported": ["en", "pt"]}))
    assert errors(messages={"pt": {"Sign in": "Entrar"}})
    assert errors(languages={"supported": ["en", "de"]}, messages={"fr": {"Sign in": "X"}}) == [
        "$.messages.fr: 'fr' is not among the tenant's languages (en, de): its messages would "
        "never be shown"]


def test_an_override_must_name_a_message() -> None:
    assert errors(messages={"de": {"Sign In": "Anmelden"}}) == [
        "$.messages.de[\"Sign In\"]: 'Sign In' is not a message of confidp's pages (keys are "
        "the English text, exactly; `confidp messages` lists them); did you mean 'Sign in'?"]


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("Go back to %(application)s", "Zurück zu %(app)s",
     "%(app)s is not a placeholder of this message (it has: %(application)s)"),
    ("Go back to %(application)s", "Zurück zu %(application)d",
     "%(application)d cannot show this value: write %(application)s or %(application)s"),
    ("Sign in", "100% sicher", "'% s' reads as a placeholder without a name: write %% for a "
     "percent sign, %(name)s for a placeholder"),
    ("Sign in", "Anmelden %s", "'%s' reads as a placeholder without a name: write %% for a "
     "percent sign, %(name)s for a placeholder"),
    ("Sign in", "Anmelden 100%", "a '%' that is not a placeholder: write %% for a percent "
     "sign"),
    ("Sign in", ["Anmelden", "Anmelden"],
     "this message has no plural forms: give one text, not a list"),
    (THROTTLE, ["%(num)d Minute"], "de has 2 plural forms: give 2 texts, or one for all"),
])
def test_an_override_must_render(key: str, value: str | list[str], problem: str) -> None:
    found = errors(messages={"de": {key: value}})
    assert len(found) == 1 and found[0].endswith(problem), found


def test_an_override_may_drop_a_placeholder_or_show_a_number_as_text() -> None:
    assert not errors(messages={"ja": {THROTTLE: "しばらくお待ちください。"},
                                "de": {THROTTLE: ["%(num)s Minute", "%(num)s Minuten"]},
                                "en": {"Sign in": "100%% sure: sign in"}})


def test_an_override_is_plain_text_of_bounded_size() -> None:
    assert errors(messages={"de": {"Sign in": ""}})
    assert errors(messages={"de": {"Sign in": "x" * 1001}})
    assert errors(messages={"de": {"Sign in": 7}})


@pytest.mark.parametrize("link", [
    "https://acme.example/help", "/acme/help", "http://127.0.0.1:9999/", "http://localhost/x",
    "http://[::1]:8080/",
])
def test_good_page_links(link: str) -> None:
    assert page_link_problem(link) is None
    assert not errors(links={"help": link})


@pytest.mark.parametrize(("link", "problem"), [
    ("//evil.example/x", "starts with a single '/'"),
    ("/\\evil.example/x", "starts with a single '/'"),
    ("http://acme.example/help", "must use https"),
    ("https://user@acme.example/", "user information"),
    ("https:///path", "must name a host"),
    ("https://acme.example:0/", "port must be between"),
    ("https://acme.example:99999/", "not a valid URL"),
])
def test_bad_page_links(link: str, problem: str) -> None:
    found = page_link_problem(link)
    assert found is not None and problem in found
    assert errors(links={"help": link})


@pytest.mark.parametrize("link", [
    "javascript:alert(1)", "data:text/html,x", "vbscript:x", "ftp://acme.example/",
    "https://acme.example/a b", 'https://acme.example/"><script>', "relative/path",
])
def test_the_schema_refuses_other_schemes_and_markup(link: str) -> None:
    found = errors(links={"help": link})
    assert found and found[0].startswith("$.links.help")


def test_application_links_are_checked_too() -> None:
    app = tenant_doc("https://x")["applications"][0]
    app.update(initiate_login_uri="https://portal.example.com/login",
               client_uri="https://portal.example.com/", logo_uri="/acme/assets/logo.svg",
               policy_uri="https://portal.example.com/privacy",
               tos_uri="https://portal.example.com/terms")
    tenant, problems = load(applications=[app])
    assert not problems and tenant is not None
    portal = tenant.applications["portal-spa"]
    assert portal.initiate_login_uri == "https://portal.example.com/login"
    assert portal.tos_uri == "https://portal.example.com/terms"
    assert errors(applications=[{**app, "policy_uri": "//evil.example/"}]) == [
        "$.applications[0].policy_uri: '//evil.example/' a path on this server starts with a "
        "single '/' ('//' names another host)"]
    assert errors(applications=[{**app, "tos_uri": "javascript:x"}])[0].startswith(
        "$.applications[0].tos_uri")
