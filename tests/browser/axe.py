"""axe-core (Deque's accessibility engine, the npm package) in a Playwright page.

``make test`` installs the pinned version into tests/browser/.node/ (git-ignored); the page's
context must be made with ``bypass_csp=True``, since confidp's pages allow no script.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

PACKAGE = Path(__file__).resolve().parent / ".node" / "node_modules" / "axe-core"
# WCAG 2.0, 2.1 and 2.2, levels A and AA
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@cache
def _source() -> tuple[str, str]:
    script = PACKAGE / "axe.min.js"
    if not script.is_file():
        message = (f"axe-core is not installed in {PACKAGE.parent}: run `make axe-core` "
                   "(make test does)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    version = json.loads((PACKAGE / "package.json").read_text())["version"]
    return script.read_text(), version


def version() -> str:
    return _source()[1]


async def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 AA violations on the page as it is now."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.add_script_tag(content=_source()[0])
    result: dict[str, Any] = await page.evaluate(
        """async (tags) => await axe.run(document, {
               runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})""",
        WCAG_22_AA)
    found: list[dict[str, Any]] = result["violations"]
    return found


def describe(found: list[dict[str, Any]]) -> list[str]:
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            f"{', '.join(' '.join(node['target']) for node in v['nodes'][:5])}"
            for v in found]
