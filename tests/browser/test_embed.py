"""The embed in real Chromium, framed by a page of another origin (a second local port):
shown where the petition allows that origin, refused where it does not, signed inside the
frame with the real proof-of-work widget and no cookie, accessible (axe-core)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, assert_accessible
from tests.browser.test_sign_flow import french
from tests.conftest import free_port, unavailable
from tests.factories import make_petition

pytestmark = pytest.mark.browser


class HostSite:
    """Another site: serves the pages it is given, each framing something."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.pages: dict[str, str] = {}

    def __call__(self, environ, start_response):
        body = self.pages.get(environ["PATH_INFO"])
        if body is None:
            return Response("not found", status=404)(environ, start_response)
        return Response(body, mimetype="text/html")(environ, start_response)


@pytest.fixture
def host_site() -> Iterator[HostSite]:
    site = HostSite()
    server = make_server("127.0.0.1", site.port, site, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="host-site", daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()
    thread.join(10)


def host_page(title: str, src: str) -> str:
    return (
        f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><main><h1>{title}</h1>"
        f'<iframe name="embed" src="{src}" title="Signer la pétition" width="420" '
        f'height="900" loading="lazy"></iframe></main></body></html>'
    )


def chromium_context(playwright, allowed: tuple[str, ...], *, bypass_csp: bool):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    context = browser.new_context(locale="fr-FR", bypass_csp=bypass_csp)
    context.set_default_timeout(15_000)
    outside: list[str] = []

    def local_only(route) -> None:
        if route.request.url.startswith(tuple(url + "/" for url in allowed)):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", local_only)
    return browser, context, outside


def test_embed_framed_by_another_origin_signs_without_cookies(live_server, host_site, mailbox):
    if not CHROMIUM.exists():
        unavailable(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import expect, sync_playwright

    app, url = live_server.app, live_server.url
    with app.app_context():
        allowed = make_petition(title="Pour un hôpital public", embed_origins=host_site.url)
        refused = make_petition(embed_origins="https://ailleurs.example")
        allowed_slug, refused_slug = allowed.slug, refused.slug
    host_site.pages["/allowed"] = host_page("Notre association", f"{url}/p/{allowed_slug}/embed")
    host_site.pages["/refused"] = host_page("Un autre site", f"{url}/p/{refused_slug}/embed")
    _ = french(app)

    with sync_playwright() as playwright:
        browser, context, outside = chromium_context(
            playwright, (url, host_site.url), bypass_csp=False
        )
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))

            # A site the petition does not allow: Chromium refuses to show the embed.
            with page.expect_response(f"{url}/p/{refused_slug}/embed") as response:
                page.goto(f"{host_site.url}/refused")
            assert response.value.status == 200
            (refused_frame,) = [frame for frame in page.frames if frame != page.main_frame]
            for _attempt in range(100):
                if refused_frame.url not in ("", "about:blank", response.value.url):
                    break
                page.wait_for_timeout(100)
            assert refused_frame.url.startswith("chrome-error://"), refused_frame.url

            # The allowed site shows it, and one signs inside the frame.
            page.goto(f"{host_site.url}/allowed")
            frame = page.frame_locator('iframe[name="embed"]')
            expect(frame.get_by_role("heading", level=1)).to_have_text("Pour un hôpital public")
            frame.get_by_label(_("First name"), exact=True).fill("Claire")
            frame.get_by_label(_("Last name"), exact=True).fill("Dubois")
            frame.get_by_label(_("Email address"), exact=True).fill("claire@example.fr")
            frame.get_by_label(_("You sign as")).select_option("citizen")
            frame.get_by_label(_("Département (optional)")).select_option("35")
            frame.get_by_label(_("Yes, publish my name")).check()
            frame.locator("#consent").check()
            frame.locator("altcha-widget input[type=checkbox]").check()
            expect(frame.locator("altcha-widget [data-state=verified]")).to_have_count(1)
            frame.get_by_role("button", name=_("Sign"), exact=True).click()
            expect(frame.get_by_role("heading", level=1)).to_have_text(_("Check your inbox"))

            message = mailbox.wait_for(1)[0]
            assert url + "/s/" in message.get_body(preferencelist=("plain",)).get_content()
            # Neither the frame nor the host kept a cookie of Tribune's.
            assert [c for c in context.cookies() if c["domain"] == "127.0.0.1"] == []
            assert outside == [] and errors == []
        finally:
            context.close()
            browser.close()

        # axe-core inside the frame (its script is injected, hence a context bypassing CSP).
        browser, context, outside = chromium_context(
            playwright, (url, host_site.url), bypass_csp=True
        )
        try:
            page = context.new_page()
            page.goto(f"{host_site.url}/allowed")
            page.frame_locator('iframe[name="embed"]').locator("h1").wait_for()
            embed = page.locator('iframe[name="embed"]').element_handle().content_frame()
            assert_accessible(embed, "the embed in a frame of another site")
            assert outside == []
        finally:
            context.close()
            browser.close()
