"""Link previews (issue 18.2): Open Graph and Twitter tags with absolute addresses on
PUBLIC_URL, the 1200×630 card Tribune draws itself, and the icons."""

import io
import re
from html import unescape

from PIL import Image

from campaign.petitions.cards import count_step
from tests.factories import make_petition, make_signature


def meta(html: str, key: str) -> str:
    match = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)"', html)
    assert match, key
    return unescape(match.group(1))


def test_petition_page_has_preview_tags_with_absolute_addresses(client):
    petition = make_petition(title="Nos données chez nous")
    html = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    url = f"http://tribune.test/p/{petition.slug}"
    assert f'<link rel="canonical" href="{url}">' in html
    assert meta(html, "og:url") == url
    assert meta(html, "og:title") == "Nos données chez nous"
    assert meta(html, "og:locale") == "fr_FR"
    assert meta(html, "og:locale:alternate") == "en_GB"
    assert meta(html, "twitter:card") == "summary_large_image"
    assert meta(html, "og:description")
    image = meta(html, "og:image")
    assert image.startswith(f"{url}/card.png?") and "lang=fr" in image
    assert meta(html, "twitter:image") == image


def test_english_page_points_to_the_english_card(client):
    petition = make_petition(title="Souveraineté")
    html = client.get(f"/p/{petition.slug}", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert meta(html, "og:locale") == "en_GB"
    assert "lang=en" in meta(html, "og:image")
    assert meta(html, "og:title") == "Souveraineté (en)"


def test_card_is_a_1200_by_630_png_and_changes_with_the_count(client):
    petition = make_petition(goal=10)
    first = client.get(f"/p/{petition.slug}/card.png?lang=fr")
    assert first.status_code == 200 and first.mimetype == "image/png"
    assert Image.open(io.BytesIO(first.data)).size == (1200, 630)
    assert client.get(f"/p/{petition.slug}/card.png?lang=fr").data == first.data
    english = client.get(f"/p/{petition.slug}/card.png?lang=en").data
    assert english != first.data
    for _ in range(5):
        make_signature(petition)
    later = client.get(f"/p/{petition.slug}/card.png?lang=fr")
    assert later.data != first.data
    html = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert "v=1-5" in meta(html, "og:image")


def test_card_of_an_unknown_or_draft_petition_is_not_found(client):
    draft = make_petition(status="draft")
    assert client.get(f"/p/{draft.slug}/card.png").status_code == 404
    assert client.get("/p/nowhere/card.png").status_code == 404


def test_card_is_redrawn_only_when_the_count_changes_noticeably():
    assert [count_step(n) for n in (0, 7, 99, 100, 1234, 1299, 98765)] == [
        0, 7, 99, 100, 1200, 1200, 98000,
    ]  # fmt: skip


def test_favicon_and_app_icons_are_served_from_the_site(client):
    html = client.get("/").get_data(as_text=True)
    for path in re.findall(r'<link rel="(?:icon|apple-touch-icon|manifest)" href="([^"]+)"', html):
        assert client.get(path).status_code == 200, path
    favicon = client.get("/favicon.ico")
    assert favicon.status_code == 200 and favicon.data[:4] == b"\x00\x00\x01\x00"


def test_card_shows_the_organisers_image_and_its_address_changes_with_it(client):
    from campaign.clock import utcnow
    from campaign.petitions.services import store_petition_image
    from tests.factories import make_user

    petition = make_petition(goal=10)
    plain_html = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    plain = client.get(f"/p/{petition.slug}/card.png?lang=fr").data
    upload = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 20, 30)).save(upload, "PNG")
    store_petition_image(petition, upload.getvalue(), "Une bannière rouge", make_user(), utcnow())

    html = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert meta(html, "og:image") != meta(plain_html, "og:image")
    with_picture = client.get(f"/p/{petition.slug}/card.png?lang=fr").data
    assert with_picture != plain
    card = Image.open(io.BytesIO(with_picture)).convert("RGB")
    # The picture's box sits beside the title, at the card's right.
    red, green, blue = card.getpixel((1200 - 72 - 150, 110 + 150))
    assert red > 150 and green < 80 and blue < 80
    assert Image.open(io.BytesIO(plain)).convert("RGB").getpixel((1200 - 72 - 150, 260)) != (
        red,
        green,
        blue,
    )
