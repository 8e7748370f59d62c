"""The per-process caches of the petition page and the sign form: what they keep, and that
closing or editing a petition is seen by the next request."""

import re
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.petitions import services
from campaign.petitions import views as petition_views
from campaign.petitions.models import Petition, PetitionStatus
from campaign.signatures.forms import SignatureForm
from campaign.signatures.models import Signature, SignatureStatus
from tests.factories import make_petition, make_signature
from tests.support import csrf_token, sign_data


def signature_rows() -> int:
    return db.session.scalar(select(func.count(Signature.id)))


def write_as_another_process(petition: Petition, **values) -> None:
    """Change the petition's row without this process's session, as another web worker would:
    nothing here tells the cache."""
    with db.engine.begin() as connection:
        table = Petition.__table__
        connection.execute(update(table).where(table.c.id == petition.id).values(**values))


def later(monkeypatch, seconds: float) -> None:
    """Move the cache's clock forward."""
    real = time.monotonic
    monkeypatch.setattr(services, "time", SimpleNamespace(monotonic=lambda: real() + seconds))


def test_the_page_is_cached_per_app(make_app):
    first, second = make_app(), make_app()
    with first.app_context():
        services.ensure_default_categories()
        db.session.commit()
        slug = make_petition().slug
    assert first.test_client().get(f"/p/{slug}").status_code == 200
    assert slug in first.extensions["tribune.public_petitions"]
    assert "tribune.public_petitions" not in second.extensions


def test_an_edit_in_this_process_shows_on_the_next_request(client):
    petition = make_petition(title="Ancien titre")
    assert "Ancien titre" in client.get(f"/p/{petition.slug}").get_data(as_text=True)
    petition.text("fr").title = "Nouveau titre"
    db.session.commit()
    page = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert "Nouveau titre" in page and "Ancien titre" not in page


def test_another_processs_edit_shows_once_the_cache_expires(client, monkeypatch):
    petition = make_petition()
    assert 'name="first_name"' in client.get(f"/p/{petition.slug}").get_data(as_text=True)
    write_as_another_process(petition, status=PetitionStatus.CLOSED)
    later(monkeypatch, services.PUBLIC_PETITION_CACHE_SECONDS + 1)
    page = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert 'name="first_name"' not in page and "n’accepte plus de signatures" in page


@pytest.mark.parametrize(
    "values",
    [
        {"status": PetitionStatus.CLOSED},
        {"closes_at": utcnow() - timedelta(minutes=1)},
        {"opens_at": utcnow() + timedelta(days=1)},
    ],
)
def test_a_petition_closed_elsewhere_refuses_signatures_while_still_cached(client, values):
    petition = make_petition()
    token = csrf_token(client, f"/p/{petition.slug}")  # caches the open petition
    write_as_another_process(petition, **values)
    response = client.post(f"/p/{petition.slug}/sign", data=sign_data(csrf_token=token))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/p/{petition.slug}"
    assert signature_rows() == 0


def test_a_signature_records_the_version_current_when_it_is_made(client):
    petition = make_petition()
    token = csrf_token(client, f"/p/{petition.slug}")
    write_as_another_process(petition, current_version=2, consent_version="2")
    response = client.post(f"/p/{petition.slug}/sign", data=sign_data(csrf_token=token))
    assert response.status_code == 303
    signature = db.session.scalar(select(Signature))
    assert (signature.text_version, signature.consent_version) == (2, "2")


def test_the_departement_list_keeps_the_chosen_value_and_forgets_it_after(client):
    petition = make_petition()
    token = csrf_token(client, f"/p/{petition.slug}")
    data = sign_data(csrf_token=token, departement="75", consent=None)
    rerendered = client.post(f"/p/{petition.slug}/sign", data=data).get_data(as_text=True)
    assert '<option selected value="75">' in rerendered
    fresh = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert 'selected value="75"' not in fresh and '<option selected value="">' in fresh


def test_submitted_junk_does_not_grow_the_departement_cache(client):
    petition = make_petition()
    token = csrf_token(client, f"/p/{petition.slug}")
    widget = SignatureForm.departement.kwargs["widget"]
    before = len(widget._rendered)
    data = sign_data(csrf_token=token, departement="not-a-departement")
    assert client.post(f"/p/{petition.slug}/sign", data=data).status_code == 422
    assert len(widget._rendered) == before


def shown_count(client, petition) -> str:
    page = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    return re.search(r'<p class="count">.*?<strong>([^<]+)</strong>', page).group(1)


def test_a_confirmation_in_this_process_shows_in_the_count_at_once(client):
    petition = make_petition()
    pending = make_signature(petition, status=SignatureStatus.PENDING, last_name="Zola")
    assert shown_count(client, petition) == "0"
    # An UPDATE statement, as confirm_signature makes, not a change of an ORM object.
    Signature.move(
        db.session, pending.id, frozenset({SignatureStatus.PENDING}), SignatureStatus.CONFIRMED,
        utcnow(), confirmed_at=utcnow(),
    )  # fmt: skip
    db.session.commit()
    assert shown_count(client, petition) == "1"
    assert "Zola" in client.get(f"/p/{petition.slug}").get_data(as_text=True)
    make_signature(petition)  # an ORM insert
    assert shown_count(client, petition) == "2"


def test_another_processs_confirmation_shows_once_the_counts_expire(client, monkeypatch):
    petition = make_petition()
    pending = make_signature(petition, status=SignatureStatus.PENDING)
    assert shown_count(client, petition) == "0"
    # Another process's transaction: its own connection, the count changed with the row.
    with db.engine.begin() as connection:
        Signature.move(
            Session(bind=connection), pending.id, frozenset({SignatureStatus.PENDING}),
            SignatureStatus.CONFIRMED, utcnow(),
        )  # fmt: skip
    assert shown_count(client, petition) == "0"  # cached for a few seconds
    real = time.monotonic
    monkeypatch.setattr(
        petition_views,
        "time",
        SimpleNamespace(monotonic=lambda: real() + petition_views.PAGE_COUNTS_SECONDS + 1),
    )
    assert shown_count(client, petition) == "1"


def test_a_new_pending_signature_keeps_the_counts(client):
    petition = make_petition()
    token = csrf_token(client, f"/p/{petition.slug}")
    assert petition.id in client.application.extensions["tribune.petition_page_counts"]
    response = client.post(f"/p/{petition.slug}/sign", data=sign_data(csrf_token=token))
    assert response.status_code == 303 and signature_rows() == 1
    # Not counted until confirmed: no reason to read the counts again.
    assert petition.id in client.application.extensions["tribune.petition_page_counts"]


# --- The page shared by anonymous visitors --------------------------------------------------


def without_token(page: str) -> str:
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", page)


def test_anonymous_visitors_share_the_page_but_each_gets_a_token_of_their_own(app, client):
    petition = make_petition()
    other = app.test_client()
    first = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    second = other.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert (petition.slug, "fr") in app.extensions["tribune.petition_pages"]
    assert "csrf-placeholder" not in first + second
    assert without_token(first) == without_token(second)
    tokens = [csrf_token(visitor, f"/p/{petition.slug}") for visitor in (client, other)]
    assert tokens[0] != tokens[1]
    # Each token is valid for its visitor only.
    swapped = other.post(f"/p/{petition.slug}/sign", data=sign_data(csrf_token=tokens[0]))
    assert swapped.status_code == 400 and signature_rows() == 0
    for visitor, token, email in zip(
        (client, other), tokens, ("alice@example.fr", "bruno@example.org"), strict=True
    ):
        response = visitor.post(
            f"/p/{petition.slug}/sign", data=sign_data(csrf_token=token, email=email)
        )
        assert response.status_code == 303
    assert signature_rows() == 2


def test_the_shared_page_is_per_language(client):
    petition = make_petition()
    french = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    english = client.get(f"/p/{petition.slug}", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    assert '<html lang="fr">' in french and "Signer" in french
    assert '<html lang="en">' in english and "Sign this petition" in english


def test_a_flashed_message_is_shown_to_its_visitor_only(app, client):
    petition = make_petition()
    client.get(f"/p/{petition.slug}")  # the shared page is rendered
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Message pour Alice seulement")]
    assert "Message pour Alice seulement" in client.get(f"/p/{petition.slug}").get_data(
        as_text=True
    )
    page = app.test_client().get(f"/p/{petition.slug}").get_data(as_text=True)
    assert "Message pour Alice seulement" not in page
    assert "Message pour Alice seulement" not in client.get(f"/p/{petition.slug}").get_data(
        as_text=True
    ), "shown once"


def test_a_query_string_gets_a_page_of_its_own_and_fills_no_cache(app, client):
    petition = make_petition()
    page = client.get(f"/p/{petition.slug}?x=1").get_data(as_text=True)
    assert "x%3D1" in page, "the language switch returns to the same address"
    assert "tribune.petition_pages" not in app.extensions
