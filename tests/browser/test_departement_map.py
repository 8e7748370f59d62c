"""The map of signatures by département in real Chromium, on a phone (390 px) and a desktop
(1280 px): drawn inside the page without horizontal scrolling, its table readable, and no
accessibility violation (axe-core)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import assert_accessible
from tests.factories import make_petition, make_signature

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [390, 1280])
def test_map_fits_and_reads_on_phone_and_desktop(live_server, browser, width):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    with app.app_context():
        petition = make_petition()
        for departement, count in (("35", 7), ("971", 5), ("13", 12), ("48", 2)):
            for _ in range(count):
                make_signature(petition, departement=departement)
        slug = petition.slug

    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{url}/p/{slug}")
    svg = page.locator("svg.map-svg")
    expect(svg).to_be_visible()
    box = svg.bounding_box()
    assert 0 < box["width"] <= width and box["height"] > 0.8 * box["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # Coloured départements and the Guadeloupe inset are drawn; Lozère is not coloured.
    assert svg.locator("path.map-level-4").count() == 1
    assert svg.locator("path:not(.map-level-0)").count() == 3
    rows = page.locator("table.map-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Bouches-du-Rhône")
    expect(page.locator("table.map-table")).not_to_contain_text("Lozère")
    assert_accessible(page, f"the petition page with its map at {width} px")
    assert browser.outside == [] and browser.errors == []
