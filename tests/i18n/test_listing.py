"""``confidp messages``: every message, as lines a tenant file accepts under messages.<lang>."""

from __future__ import annotations

import pytest
import yaml

from confidp.cli import main
from confidp.config.loader import validate_file
from confidp.i18n import LANGUAGES, message_ids
from tests.support import dump, tenant_doc


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_listing_is_a_valid_override_of_every_message(
        language: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["messages", language]) == 0
    listed = yaml.safe_load(capsys.readouterr().out)
    assert set(listed) == set(message_ids())
    result = validate_file("acme.yaml", dump(tenant_doc("https://id.example.com", messages={
        language: listed})), themes=None, environ={})
    assert result.errors == [] and result.tenant is not None
    assert result.tenant.messages[language]["Sign in"] == listed["Sign in"]
