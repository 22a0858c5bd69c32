"""Real YAML mistakes in a tenant file: each is reported at the line where the mistake is, in
words that say what to check, not in the parser's own wording."""

from __future__ import annotations

import pytest

from confidp.config.loader import validate_file

GOOD = """\
issuer: https://id.example.com/acme
display_name: Acme
applications:
  - client_id: portal-spa
    name: Portal
    type: public
    redirect_uris: [https://portal.example.com/callback]
    scopes: [openid, profile]
users:
  - username: alice
    password_hash: $argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo
"""


def mistake(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


TAB = ("YAML syntax error: a tab character: YAML indents with spaces only, so replace the tab "
       "with spaces (a value may contain tabs only inside quotes)")
INDENTED_KEY = ("YAML syntax error: unexpected ': ' here: either this key is indented deeper "
                "than the keys above it (line it up with them), or ': ' is part of a value "
                "(put the whole value in quotes)")
NO_COLON = ("YAML syntax error: this key has no ':' after it (write 'key: value'), or the line "
            "continues the value above it by mistake")
UNCLOSED_QUOTE = ("YAML syntax error: this quoted value is never closed: add the closing "
                  "quote, or remove the opening one")
LIST_DEDENT = ("YAML syntax error: this line is not indented like the list above it: each item "
               "starts with '- ' in the same column, and the keys of an item line up under its "
               "first key")
MAPPING_DEDENT = ("YAML syntax error: this line is not indented like the lines above it: the "
                  "keys of one mapping must start in the same column")

MISTAKES = [
    pytest.param(mistake("    name: Portal", "\tname: Portal"), 5, 1, TAB, id="tab-indent"),
    pytest.param(mistake("    type: public", "    \ttype: public"), 6, 5, TAB,
                 id="tab-after-spaces"),
    pytest.param(mistake("    type: public", "     type: public"), 6, 10, INDENTED_KEY,
                 id="key-indented-too-far"),
    pytest.param(mistake("display_name: Acme", "display_name: Acme: the company"), 2, 19,
                 INDENTED_KEY, id="colon-in-value"),
    pytest.param(mistake("display_name: Acme", "display_name Acme"), 2, 1, NO_COLON,
                 id="missing-colon"),  # the parser notices on line 3
    pytest.param(mistake("    name: Portal", "    name Portal"), 5, 5, NO_COLON,
                 id="missing-colon-in-list-item"),
    pytest.param(mistake("display_name: Acme", "display_name: 'Acme"), 2, 15, UNCLOSED_QUOTE,
                 id="unclosed-quote"),  # the parser notices at the end of the file
    pytest.param(mistake("    type: public", "  type: public"), 6, 3, LIST_DEDENT,
                 id="dedented-key-in-list-item"),
    pytest.param(mistake("    type: public", "   type: public"), 6, 4, LIST_DEDENT,
                 id="key-one-space-short"),
    pytest.param(mistake("    password_hash:", "   password_hash:"), 11, 4, LIST_DEDENT,
                 id="dedent-in-users"),
    pytest.param(mistake("    scopes: [openid, profile]", "    scopes: [openid, profile"), 8,
                 13, "YAML syntax error: the list opened with '[' here is never closed: end "
                 "it with ']' and separate its items with ','", id="unclosed-bracket"),
    pytest.param(GOOD + "theme:\n    name: default\n  title: Acme\n", 14, 3, MAPPING_DEDENT,
                 id="dedent-in-mapping"),
    pytest.param(mistake("display_name: Acme", "display_name: @acme"), 2, 15,
                 "YAML syntax error: a value cannot start with '@': put the whole value in "
                 "quotes, e.g. \"@...\"", id="reserved-character"),
    pytest.param(mistake("display_name: Acme", "display_name: \"Acme\" Corp"), 2, 22,
                 "YAML syntax error: unexpected text after the value: a quoted value or a "
                 "closing bracket must end it (put the whole value in quotes)",
                 id="text-after-quote"),
    pytest.param(mistake("display_name: Acme", "display_name: {{name}}"), 2, 15,
                 "YAML syntax error: a list or mapping is used as a key: if this is text (such "
                 "as '{{name}}'), put the whole value in quotes", id="template-braces"),
]


@pytest.mark.parametrize(("text", "line", "col", "message"), MISTAKES)
def test_mistake_is_reported_where_it_is_in_plain_words(text: str, line: int, col: int,
                                                         message: str) -> None:
    result = validate_file("acme.yaml", text.encode(), themes=None, environ=None)
    assert [(e.line, e.col, e.path, e.message) for e in result.errors] == [
        (line, col, "$", message)]


def test_the_good_file_is_good() -> None:
    assert validate_file("acme.yaml", GOOD.encode(), themes=None, environ=None).ok
