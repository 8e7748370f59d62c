"""Browser fixtures: the app on a live local server, driven by real headless Chromium.

Vendored: vendor/axe.min.js is axe-core 4.14.1 from npm (`npm pack axe-core@4.14.1`,
package/axe.min.js, sha256-KTSJmUUM3yhJqOcLeRL8LahahJ2jnA0NU5T1HUqe2Vw= as listed in the
package's sri-history.json), under the MPL 2.0; vendor/LICENSE-axe-core.txt holds its licence
and the notices of the third-party code it bundles. To update, pack the new version, copy
those two files and change the version and digest here.

Nothing leaves the machine: Chromium's background services are off, and every request the
page makes to anything but the live server is refused and recorded (`Browser.outside`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from werkzeug.serving import make_server

from campaign import ROOT
from tests.conftest import free_port, unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_RUN = (
    "async (tags) => (await axe.run(document, "
    "{runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})).violations"
)


@pytest.fixture(scope="session")
def translations(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The catalogues compiled from the .po sources, as `make translations` does (without
    fuzzy entries), so that the pages do not depend on stale or missing .mo files."""
    target = tmp_path_factory.mktemp("translations")
    for po_path in (ROOT / "campaign" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo_path = target / po_path.relative_to(ROOT / "campaign" / "translations")
        mo_path = mo_path.with_suffix(".mo")
        mo_path.parent.mkdir(parents=True)
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        with mo_path.open("wb") as mo_file:
            write_mo(mo_file, catalog, use_fuzzy=False)
    return str(target)


@dataclass
class LiveServer:
    app: object
    url: str


@pytest.fixture
def live_server(make_app, smtp_config: dict, translations: str) -> Iterator[LiveServer]:
    """The app served by werkzeug on 127.0.0.1 in a background thread, mailing through the
    test SMTP server; its tables are emptied afterwards by make_app."""
    from campaign.extensions import db
    from campaign.petitions.services import ensure_default_categories

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = make_app(
        **smtp_config,
        RATELIMIT_ENABLED=False,
        # The real proof-of-work widget, computed by Chromium (a small one, to stay quick).
        ALTCHA_ENABLED=True,
        ALTCHA_MAX_NUMBER=20000,
        PUBLIC_URL=url,
        BABEL_TRANSLATION_DIRECTORIES=translations,
    )
    with app.app_context():
        ensure_default_categories()
        db.session.commit()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, url=url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@dataclass
class Browser:
    page: object
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def browser(live_server: LiveServer) -> Iterator[Browser]:
    """A fresh French-speaking Chromium page that may only talk to the live server."""
    if not CHROMIUM.exists():
        unavailable(f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        unavailable(f"Playwright is not installed: {error}")

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # bypass_csp only so that axe's script can be injected: the app's CSP forbids it.
            context = chromium.new_context(locale="fr-FR", bypass_csp=True)
            context.set_default_timeout(10_000)
            session = Browser(page=context.new_page())

            def local_only(route) -> None:
                if route.request.url.startswith(live_server.url + "/"):
                    route.continue_()
                else:
                    session.outside.append(route.request.url)
                    route.abort()

            context.route("**/*", local_only)
            session.page.on("pageerror", lambda error: session.errors.append(str(error)))
            yield session
            context.close()
        finally:
            chromium.close()


def assert_accessible(page, what: str) -> None:
    """Run axe-core (WCAG 2.0/2.1 A and AA rules) on the page; fail listing every violation."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(AXE_RUN, AXE_TAGS)
    if not violations:
        return
    lines = [f"axe-core found {len(violations)} accessibility violation(s) on {what} ({page.url}):"]
    for violation in violations:
        lines.append(
            f"- {violation['id']} [{violation.get('impact') or 'n/a'}]: {violation['help']} "
            f"({violation['helpUrl']})"
        )
        for node in violation["nodes"]:
            target = " ".join(
                " > ".join(part) if isinstance(part, list) else part for part in node["target"]
            )
            lines.append(f"    at {target}: {node['html'][:200]}")
            summary = [line.strip() for line in (node.get("failureSummary") or "").splitlines()]
            if summary:
                lines.append("      " + "; ".join(line for line in summary if line))
    pytest.fail("\n".join(lines), pytrace=False)
