"""Every page works in Chromium under its Content-Security-Policy: no violation reported."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dispatch.test_dispatch import make_responder
from tests.e2e.test_pages import draw_polygon_over_west_half, log_in, register_resident
from tests.support import CITY_A, PASSWORD, LiveServer, make_settings, start_server

# Tiles from a host that never resolves: the browser must be allowed to ask (img-src names the
# host), and no outside network is needed.
TILES = "http://{s}.tiles.invalid/{z}/{x}/{y}.png"
COLLECT = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(
    `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`
));
"""


@pytest.fixture(scope="module")
def csp_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(make_settings(tmp_path_factory.mktemp("csp"), map_tile_url=TILES))
    try:
        yield server
    finally:
        server.stop()


def staff_login(path: str, username: str, ready: str) -> Callable[[Any, str], None]:
    def run(page: Any, url: str) -> None:
        page.goto(url + path)
        page.select_option("#ui-language", "en")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("#login")
        page.locator(ready).first.wait_for(state="visible", timeout=10_000)

    return run


def console(page: Any, url: str) -> None:
    log_in(page, url)
    # geoman's drawing tools add and style their own elements.
    draw_polygon_over_west_half(page)
    page.locator("#preview[data-recipients]").wait_for(timeout=10_000)


def board(page: Any, url: str) -> None:
    page.goto(f"{url}/console/shelters?municipality={CITY_A}")
    page.locator("#connection", has_text="Connected").wait_for(timeout=10_000)


PAGES: dict[str, tuple[str, Callable[[Any, str], None]]] = {
    "resident": ("/", register_resident),
    "console": ("/console", console),
    "board": ("/console/shelters", board),
    "shelter": ("/shelter", staff_login("/shelter", "shelter-manager", "#desk")),
    "responder": ("/responder", staff_login("/responder", "csp-responder", "#connection")),
    "volunteer": ("/volunteer", staff_login("/volunteer", "volunteer", "#profile")),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_page_runs_without_csp_violations(
    browser: Any, csp_web: LiveServer, artifacts: Path, name: str
) -> None:
    if name == "responder":
        make_responder(csp_web, 0.5, name="csp-responder")
    path, use = PAGES[name]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    console_csp: list[str] = []
    try:
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                console_csp.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        page.add_init_script(COLLECT)
        policy = page.request.get(csp_web.url + path).headers["content-security-policy"]
        assert "script-src 'self';" in policy
        assert "http://*.tiles.invalid" in policy
        use(page, csp_web.url)
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts / f"csp-{name}.png"), full_page=True)
        violations = page.evaluate("window.__cspViolations")
        assert violations == [], violations
        assert console_csp == [], console_csp
    finally:
        context.close()


def test_an_inline_script_is_refused(browser: Any, csp_web: LiveServer) -> None:
    """The check above can fail: an injected inline script is blocked and reported."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script(COLLECT)
        page.goto(csp_web.url + "/")
        page.evaluate(
            """() => { const s = document.createElement('script');
                       s.textContent = 'window.__ran = true'; document.body.append(s); }"""
        )
        page.wait_for_timeout(200)
        assert page.evaluate("window.__ran === undefined")
        violations = page.evaluate("window.__cspViolations")
        assert any(v.startswith("script-src") for v in violations), violations
    finally:
        context.close()
