"""Signatures by département (issue 18.5): the counts (API, petition page, workspace), the
threshold under which a count is not shown, the map drawn by Tribune, and "N signatories in
your département" for the signer, in French and in English."""

from __future__ import annotations

import re
from html import unescape

from campaign.clock import utcnow
from campaign.departements import DEPARTEMENTS
from campaign.tokens import make_token
from campaign.web.departement_map import _shapes, departement_map
from tests.factories import make_petition, make_signature, make_user
from tests.support import english_client, login, visible_text


def signatures_in(petition, departement: str, count: int, **overrides) -> list:
    return [make_signature(petition, departement=departement, **overrides) for _ in range(count)]


def petition_with_departements():
    """Ille-et-Vilaine 6, Paris 5, Lozère 2 (under the threshold), and signatures that do not
    count (pending, withdrawn) or gave no département."""
    petition = make_petition()
    signatures_in(petition, "35", 6)
    signatures_in(petition, "75", 5)
    signatures_in(petition, "48", 2)
    signatures_in(petition, "75", 3, status="pending", confirmed_at=None)
    signatures_in(petition, "48", 4, status="withdrawn")
    make_signature(petition)
    return petition


def test_the_map_has_an_outline_for_every_departement_and_the_overseas_as_insets():
    shapes = _shapes()["shapes"]
    assert set(shapes) == set(DEPARTEMENTS) - {"99"}
    assert all(re.fullmatch(r"(M[-0-9., ]+Z)+", shape["d"]) for shape in shapes.values())
    assert [inset["code"] for inset in _shapes()["insets"]] == ["971", "972", "973", "974", "976"]


def test_map_hides_and_leaves_uncoloured_the_counts_under_the_threshold():
    drawn = departement_map({"35": 40, "75": 5, "48": 4, "13": 12}, threshold=5)
    areas = {area.code: area for area in drawn.areas}
    assert areas["48"].count is None and areas["48"].level == 0
    assert areas["01"].count is None and areas["01"].level == 0
    assert areas["75"].level == 1 and areas["35"].level == 4
    assert [area.code for area in drawn.shown] == ["35", "13", "75"]
    assert drawn.legend[0].low == 5 and drawn.legend[-1].high == 40


def test_api_gives_counts_by_departement_from_the_threshold(client):
    petition = petition_with_departements()
    body = client.get(f"/api/v1/petitions/{petition.slug}").get_json()
    assert body["counts_by_departement"] == {"35": 6, "75": 5}
    assert body["count"] == 14


def test_petition_page_shows_the_map_and_the_counts_readable_without_colour(client):
    petition = petition_with_departements()
    html = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert '<svg viewBox="0 0 613 700" role="img"' in html
    table = unescape(html[html.index('<table class="map-table">') : html.index("</table>")])
    rows = re.findall(r"<th scope=\"row\">([^<]+)</th><td>([^<]+)</td>", table)
    assert rows == [("35 – Ille-et-Vilaine", "6"), ("75 – Paris", "5")]
    assert "Lozère" not in table
    text = visible_text(html)
    assert "le nombre d’un département n’est affiché qu’à partir de 5 signatures" in text
    # Lozère's outline is drawn, neither coloured nor counted.
    assert "<title>Lozère\u00a0: nombre non affiché</title>" in unescape(html)
    assert "<title>Ille-et-Vilaine\u00a0: 6 signatures</title>" in unescape(html)
    assert "Lozère\u00a0: 2" not in unescape(html)


def test_petition_page_draws_no_map_before_the_first_signature(client):
    petition = make_petition()
    assert "map-svg" not in client.get(f"/p/{petition.slug}").get_data(as_text=True)


def confirmation_page(client, signature) -> str:
    token = make_token("confirm", signature, utcnow())
    return visible_text(client.get(f"/s/{token}").get_data(as_text=True))


def test_signer_sees_how_many_signed_in_their_departement_in_french(client):
    petition = petition_with_departements()
    signer = make_signature(petition, departement="35")
    text = confirmation_page(client, signer)
    assert "7 signataires dans votre département (Ille-et-Vilaine)." in text


def test_signer_sees_how_many_signed_in_their_departement_in_english(app):
    petition = petition_with_departements()
    signer = make_signature(petition, departement="75")
    text = confirmation_page(english_client(app), signer)
    assert "6 signatories in your département (Paris)." in text


def test_signer_in_a_small_departement_gets_no_number(app, client):
    petition = petition_with_departements()
    signer = make_signature(petition, departement="48")
    assert (
        "Moins de 5 signataires dans votre département (Lozère) pour l’instant"
        in confirmation_page(client, signer)
    )
    english = confirmation_page(english_client(app), signer)
    assert "Fewer than 5 signatories in your département (Lozère) so far" in english
    assert "3 signatories" not in english


def test_signer_without_departement_gets_no_message(client):
    petition = petition_with_departements()
    signer = make_signature(petition)
    assert "votre département" not in confirmation_page(client, signer)


def test_workspace_links_each_departement_to_its_officials(app):
    owner = make_user("organiser")
    petition = petition_with_departements()
    petition.owner_id = owner.id
    from campaign.extensions import db

    db.session.commit()
    client = app.test_client()
    login(client, owner)
    overview = client.get(f"/admin/p/{petition.slug}").get_data(as_text=True)
    assert f"/admin/p/{petition.slug}/departements" in overview
    html = unescape(client.get(f"/admin/p/{petition.slug}/departements").get_data(as_text=True))
    assert "map-svg" in html
    assert '<a href="/admin/officials?departement=35">' in html
    assert '<a href="/admin/officials?departement=75">' in html
    assert "departement=48" not in html
    other = make_user("organiser")
    login(other_client := app.test_client(), other)
    assert other_client.get(f"/admin/p/{petition.slug}/departements").status_code == 404
