"""Every page (tests/browser/pages.py) in every shipped language, in both themes (and the
default theme's dark variant), in real Chromium:

- axe-core finds no WCAG 2.2 AA violation (at desktop size, and at phone size for the
  languages that get screenshots);
- the page's ``lang`` and ``dir`` follow the language, and a right-to-left page is mirrored;
- form-control borders reach 3:1 against the card, and every control shows a focus outline;
- at 390 px nothing scrolls sideways, and the default theme's card fills the width;
- screenshots at 1280x800 and 390x844 go to test-artifacts/ for a person to look at.

A summary (pages x languages, page checks, violations) is printed and written to
test-artifacts/axe-summary-<tenant>-<scheme>.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from confidp.i18n import LANGUAGES, RIGHT_TO_LEFT
from confidp.palette import contrast
from confidp.themes import REQUIRED_TEMPLATES
from tests.browser import axe
from tests.browser.pages import PAGES, PageCase
from tests.browser.site import ARTIFACTS, Site

pytestmark = pytest.mark.asyncio(loop_scope="session")

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# (tenant, prefers-color-scheme, languages): the default theme in every language, light, and
# dark in the languages that get screenshots (it changes only colours); midnight (globex,
# dark only: its own colours and card) in English, German, Arabic and Japanese, which are
# left to right, right to left, long words and CJK: French and Spanish add nothing a theme
# could get wrong that the default theme's check in them does not catch (the suite's time:
# each page check is about 0.4 s of a CPU-bound Chromium)
LOOKS = [("acme", "light", LANGUAGES), ("globex", "light", ("en", "de", "ar", "ja")),
         ("acme", "dark", ("en", "de", "ar"))]
PARALLEL = 2  # languages checked at once (the machine has two cores)


def _has_japanese_font() -> bool:
    try:
        listed = subprocess.run(["fc-list", ":lang=ja"], capture_output=True, text=True,
                                timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(listed.strip())


if os.environ.get("CI") and not _has_japanese_font():
    raise RuntimeError("no Japanese font in CI: .ci/run must install fonts-ipafont-gothic")
SCREENSHOT_LANGUAGES = ("en", "de", "ar", *(("ja",) if _has_japanese_font() else ()))
_RGB = re.compile(r"rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)")


def _rgb(css: str) -> tuple[int, int, int] | None:
    match = _RGB.fullmatch(css)
    if match is None or (match[4] is not None and float(match[4]) < 1):
        return None
    return int(match[1]), int(match[2]), int(match[3])


async def _layout_problems(page: Page, language: str, phone: bool, theme: str) -> list[str]:
    found: list[str] = []
    facts: dict[str, Any] = await page.evaluate("""() => {
        const main = document.querySelector('main');
        const r = main.getBoundingClientRect();
        const h1 = document.querySelector('h1').getBoundingClientRect();
        const controls = [...document.querySelectorAll('input:not([type=hidden])')].map(
            e => getComputedStyle(e).borderTopColor);
        return {lang: document.documentElement.lang, dir: document.documentElement.dir,
                scrollWidth: document.documentElement.scrollWidth,
                viewport: window.innerWidth, mainLeft: r.left, mainWidth: r.width,
                mainRight: r.right, h1Left: h1.left, h1Right: h1.right,
                card: getComputedStyle(main).backgroundColor, borders: controls};
    }""")
    if facts["lang"] != language:
        found.append(f"lang is {facts['lang']!r}")
    direction = "rtl" if language in RIGHT_TO_LEFT else "ltr"
    if facts["dir"] != direction:
        found.append(f"dir is {facts['dir']!r}, not {direction}")
    middle = facts["mainLeft"] + facts["mainWidth"] / 2
    if direction == "rtl" and not facts["h1Right"] > middle:
        found.append("the heading does not start on the right")
    if direction == "ltr" and not facts["h1Left"] < middle:
        found.append("the heading does not start on the left")
    if facts["scrollWidth"] > facts["viewport"]:
        found.append(f"scrolls sideways: {facts['scrollWidth']} px in {facts['viewport']}")
    if phone and theme == "acme" and (facts["mainLeft"] != 0
                                      or facts["mainWidth"] != facts["viewport"]):
        found.append(f"the card does not fill the phone's width ({facts['mainWidth']} px)")
    card = _rgb(facts["card"])
    for border in facts["borders"]:
        color = _rgb(border)
        if card is None or color is None or contrast(color, card) < 3:
            found.append(f"a form-control border {border} on {facts['card']} is below 3:1")
    return found


async def _focus_problems(page: Page) -> list[str]:
    """Tab through the page: every control that takes the focus shows an outline."""
    found = []
    for _ in range(12):
        await page.keyboard.press("Tab")
        focused: dict[str, Any] | None = await page.evaluate("""() => {
            const e = document.activeElement;
            if (!e || e === document.body) return null;
            const s = getComputedStyle(e);
            return {tag: e.tagName, text: (e.textContent || e.id || '').trim().slice(0, 30),
                    style: s.outlineStyle, width: parseFloat(s.outlineWidth)};
        }""")
        if focused is None:
            break
        if focused["style"] == "none" or focused["width"] < 2:
            found.append(f"no visible focus on {focused['tag']} {focused['text']!r}")
    return found


async def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


async def _check(page: Page, site: Site, case: PageCase, tenant_name: str, scheme: str,
                 language: str, summary: dict[str, Any]) -> list[str]:
    tenant = site.tenants[tenant_name]
    await case.open(page, site, tenant)
    look = f"{tenant.theme}{'-dark' if scheme == 'dark' else ''}"
    problems: list[str] = []
    sizes = [("desktop", DESKTOP)]
    if language in SCREENSHOT_LANGUAGES:
        sizes.append(("phone", PHONE))
    for size_name, size in sizes:
        await page.set_viewport_size(size)
        found = await axe.violations(page)
        summary["checks"] += 1
        summary["violations"] += len(found)
        problems += [f"axe {size_name}: {line}" for line in axe.describe(found)]
        problems += await _layout_problems(page, language, size_name == "phone", tenant_name)
        if language in SCREENSHOT_LANGUAGES:
            await _shot(page, f"{case.name}-{look}-{language}-{size_name}.png")
    if language == "en" or language in RIGHT_TO_LEFT:
        await page.set_viewport_size(DESKTOP)
        problems += await _focus_problems(page)
    return [f"{case.name} {tenant_name}/{scheme} {language}: {p}" for p in problems]


async def _every_page(browser: Browser, site: Site, tenant_name: str, scheme: str,
                      language: str, summary: dict[str, Any], running: asyncio.Semaphore
                      ) -> list[str]:
    """Every page in one language: one browser context (asking for the language) and one
    tab, its cookies cleared before each page. A tab per page would cost twice the time
    and CPU: each new tab starts a renderer process."""
    async with running:
        context = await browser.new_context(
            bypass_csp=True, locale=language, color_scheme=scheme,  # type: ignore[arg-type]
            viewport=DESKTOP, extra_http_headers={"Accept-Language": language})
        problems: list[str] = []
        try:
            page = await context.new_page()
            for case in PAGES:
                await context.clear_cookies()
                await page.set_viewport_size(DESKTOP)
                problems += await _check(page, site, case, tenant_name, scheme, language,
                                         summary)
        finally:
            await context.close()
        return problems


async def test_the_page_list_covers_every_template() -> None:
    assert {case.template for case in PAGES} >= set(REQUIRED_TEMPLATES) - {"base.html"}


@pytest.mark.parametrize(("tenant_name", "scheme", "languages"), LOOKS)
async def test_every_page_in_every_language(browser: Browser, site: Site, tenant_name: str,
                                            scheme: str, languages: tuple[str, ...]) -> None:
    started = time.monotonic()
    summary: dict[str, Any] = {"axe_core": axe.version(), "look": f"{tenant_name}/{scheme}",
                               "pages": len(PAGES), "languages": len(languages),
                               "checks": 0, "violations": 0}
    running = asyncio.Semaphore(PARALLEL)
    found = await asyncio.gather(*(
        _every_page(browser, site, tenant_name, scheme, language, summary, running)
        for language in languages))
    problems = [problem for language_problems in found for problem in language_problems]
    summary["seconds"] = round(time.monotonic() - started, 1)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-summary-{tenant_name}-{scheme}.json").write_text(json.dumps(summary))
    print(f"\naxe-core {summary['axe_core']}, {tenant_name}/{scheme}: {len(PAGES)} pages x "
          f"{len(languages)} languages, {summary['checks']} page checks, "
          f"{summary['violations']} violations, {summary['seconds']} s")
    assert not problems, "\n".join(problems)
