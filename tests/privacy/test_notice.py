"""The privacy notice: generated from the configuration, in French and in English."""

from __future__ import annotations

import pytest

from campaign.extensions import db
from campaign.petitions.services import ensure_default_categories
from tests.factories import make_petition
from tests.support import visible_text

CONFIGURED = {
    "PRIVACY_CONTROLLER": "Association Données Libres",
    "PRIVACY_CONTACT": "droits@donnees-libres.example",
    "PRIVACY_DPO_CONTACT": "dpo@donnees-libres.example",
    "PRIVACY_HOSTING": "OVH, Roubaix (France)",
    "PRIVACY_SUBPROCESSORS": ("Mailjet (envoi des courriels)",),
    "PRIVACY_RETENTION_DAYS": 90,
    "CONFIRMATION_TOKEN_MAX_AGE": 3 * 86400,
}


@pytest.fixture
def configured(make_app):
    app = make_app(**CONFIGURED)
    with app.app_context():
        yield app.test_client()
        db.session.remove()


@pytest.mark.parametrize(
    ("language", "heading"), [("fr", "Politique de confidentialité"), ("en", "Privacy notice")]
)
def test_notice_shows_every_configured_value_in_each_language(configured, language, heading):
    page = configured.get("/privacy", headers={"Accept-Language": language})
    html = page.get_data(as_text=True)
    text = visible_text(html)
    assert page.status_code == 200
    assert f'<html lang="{language}">' in html and heading in text
    for value in (
        "Association Données Libres",
        "droits@donnees-libres.example",
        "dpo@donnees-libres.example",
        "OVH, Roubaix (France)",
        "Mailjet (envoi des courriels)",
    ):
        assert value in text
    assert 'href="/my-signature"' in html


def test_english_notice_states_purposes_legal_basis_retention_and_rights(configured):
    text = visible_text(configured.get("/privacy", headers={"Accept-Language": "en"}).data.decode())
    for section in (
        "Who is responsible",
        "What we collect and why",
        "Legal basis",
        "Who receives your data",
        "How long we keep it",
        "Your rights",
    ):
        assert section in text
    assert "explicit consent (Art. 9(2)(a))" in text
    assert "90 days after a petition closes" in text
    assert "deleted 3 days after the last confirmation link" in text
    assert "Manage my signature" in text


def test_defaults_say_self_hosted_and_no_sub_processor(client):
    text = visible_text(client.get("/privacy", headers={"Accept-Language": "en"}).data.decode())
    assert "self-hosted by the campaign's organiser" in text
    assert "Sub-processors: none" in text
    assert "183 days after a petition closes" in text
    assert "dpo@localhost" in text


def test_footer_and_petition_page_link_to_the_rights_form(app, client):
    ensure_default_categories()
    petition = make_petition()
    home = client.get("/").get_data(as_text=True)
    page = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert 'href="/my-signature"' in home
    assert f'href="/p/{petition.slug}/my-signature"' in page
