"""Sharing (issue 18.1): the share panel's links, the Mastodon step, and the visits each
source brings, counted per petition and day and shown to the organisers."""

import re
from datetime import date
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.petitions.models import ShareCount
from campaign.petitions.sharing import (
    counted_source,
    mastodon_instance,
    record_share_visit,
    share_tallies,
)
from tests.factories import make_petition, make_user
from tests.support import login, sign

NETWORK_HOSTS = {
    "wa.me",
    "t.me",
    "bsky.app",
    "www.linkedin.com",
    "www.facebook.com",
    "x.com",
}


def share_hrefs(html: str) -> dict[str, str]:
    """The share panel's links by source."""
    return {
        source: unescape(href)
        for source, href in re.findall(r'<a class="share-([a-z]+)" href="([^"]+)"', html)
    }


def counts(petition_id: int) -> dict[str, int]:
    rows = db.session.scalars(select(ShareCount).where(ShareCount.petition_id == petition_id))
    return {row.source: row.count for row in rows}


def test_petition_page_offers_every_way_to_share_with_a_tagged_address(client):
    petition = make_petition(title="Nos données chez nous")
    html = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    links = share_hrefs(html)
    assert set(links) == {"mail", "sms", "whatsapp", "telegram", "bluesky", "linkedin",
                          "facebook", "x"}  # fmt: skip
    assert links["mail"].startswith("mailto:?subject=Nos%20donn")
    assert f"http%3A%2F%2Ftribune.test%2Fp%2F{petition.slug}%3Fs%3Dmail" in links["mail"]
    assert links["sms"].startswith("sms:?body=")
    for source in ("whatsapp", "telegram", "bluesky", "linkedin", "facebook", "x"):
        parts = urlsplit(links[source])
        assert parts.scheme == "https" and parts.netloc in NETWORK_HOSTS
        shared = " ".join(value for values in parse_qs(parts.query).values() for value in values)
        assert f"http://tribune.test/p/{petition.slug}?s={source}" in shared, source
    assert f'value="http://tribune.test/p/{petition.slug}?s=link"' in html
    assert 'action="/p/' + petition.slug + '/share/mastodon"' in html
    # Nothing from those sites is loaded: no script, image or frame of theirs.
    assert "<iframe" not in html
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert html.count("<script") == len(scripts) and "/static/js/share.js" in scripts
    assert all(src.startswith("/static/") for src in scripts)


def test_a_visit_through_a_shared_link_is_counted_and_sent_to_the_clean_address(client):
    petition = make_petition()
    response = client.get(f"/p/{petition.slug}?s=whatsapp")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/p/{petition.slug}"
    client.get(f"/p/{petition.slug}?s=whatsapp")
    client.get(f"/p/{petition.slug}?s=mail")
    assert counts(petition.id) == {"whatsapp": 2, "mail": 1}
    row = db.session.scalars(select(ShareCount).where(ShareCount.source == "mail")).one()
    assert row.day == utcnow().date()


def test_unknown_sources_and_link_previews_are_not_counted(client):
    petition = make_petition()
    assert client.get(f"/p/{petition.slug}?s=<script>").status_code == 302
    assert client.get(f"/p/{petition.slug}?s=" + "x" * 500).status_code == 302
    preview = client.get(
        f"/p/{petition.slug}?s=x", headers={"User-Agent": "facebookexternalhit/1.1"}
    )
    assert preview.status_code == 302
    client.head(f"/p/{petition.slug}?s=x")
    assert counts(petition.id) == {}
    assert client.get("/p/nowhere?s=x").status_code == 404


def test_counts_are_per_day_and_add_up_per_source(app):
    petition = make_petition()
    for day in (date(2026, 5, 1), date(2026, 5, 1), date(2026, 5, 2)):
        record_share_visit(petition.id, "x", day)
    record_share_visit(petition.id, "mail", date(2026, 4, 1))
    assert (
        db.session.scalar(select(ShareCount.count).where(ShareCount.day == date(2026, 5, 1))) == 2
    )
    tallies = share_tallies(petition.id, since=date(2026, 5, 2))
    assert [(t.source, t.total, t.recent) for t in tallies] == [("x", 3, 1), ("mail", 1, 0)]


@pytest.mark.parametrize(
    ("typed", "instance"),
    [
        ("mastodon.social", "mastodon.social"),
        ("https://Piaille.fr/", "piaille.fr"),
        ("@mamot.fr", "mamot.fr"),
        ("javascript:alert(1)", None),
        ("evil.example/path?x", None),
        ("localhost", None),
        ("", None),
    ],
)
def test_mastodon_instance_is_a_host_name(typed, instance):
    assert mastodon_instance(typed) == instance


def test_mastodon_step_links_to_the_instance_share_page_or_explains(client):
    petition = make_petition(title="Titre")
    page = client.get(f"/p/{petition.slug}/share/mastodon?instance=piaille.fr")
    html = unescape(page.get_data(as_text=True))
    assert page.status_code == 200
    assert (
        f"https://piaille.fr/share?text=Titre+http%3A%2F%2Ftribune.test%2Fp%2F{petition.slug}%3Fs%3Dmastodon"
        in html
    )
    bad = client.get(f"/p/{petition.slug}/share/mastodon?instance=javascript:alert(1)")
    assert bad.status_code == 422 and "https://javascript" not in bad.get_data(as_text=True)
    assert "mastodon.social" in bad.get_data(as_text=True)


def test_check_inbox_and_confirmation_pages_invite_to_share(browser, mailbox):
    from tests.support import links_in, path_of, text_part

    petition = make_petition()
    sign(browser, petition)
    inbox = browser.get(f"/p/{petition.slug}/check-inbox").get_data(as_text=True)
    assert "share-whatsapp" in inbox
    path = path_of(links_in(text_part(mailbox.wait_for(1)[0]))[0])
    from tests.support import csrf_token

    browser.post(path, data={"csrf_token": csrf_token(browser, path)})
    html = browser.get(path).get_data(as_text=True)
    # The invitation to share comes before the receipt, which is folded away.
    assert html.index('id="share-heading"') < html.index('class="receipt-details"')
    assert '<details class="receipt-details">' in html


def test_organisers_see_the_visits_per_source_and_no_one_else(app):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    record_share_visit(petition.id, "whatsapp", utcnow().date())
    record_share_visit(petition.id, "whatsapp", utcnow().date())
    client = app.test_client()
    login(client, owner)
    html = client.get(f"/admin/p/{petition.slug}").get_data(as_text=True)
    assert "share-tallies" in html and "WhatsApp" in html
    stranger = app.test_client()
    login(stranger, make_user("organiser"))
    assert stranger.get(f"/admin/p/{petition.slug}").status_code in (403, 404)


def test_counted_source_ignores_previews():
    assert counted_source("x", "Mozilla/5.0 (X11; Linux x86_64)") == "x"
    assert counted_source("x", "TelegramBot (like TwitterBot)") is None
    assert counted_source("nope", None) is None
