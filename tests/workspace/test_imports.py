"""Import of a signature list from the workspace: who may, upload, preview, confirm."""

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from campaign.accounts.services import assign_moderator
from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.petitions.models import PetitionStatus
from campaign.petitions.services import ensure_default_categories
from campaign.signatures.models import Signature, SignatureStatus
from campaign.web.language import LANGUAGE_COOKIE
from campaign.workspace.imports import discard_stale_uploads, keep_upload, load_upload
from tests.factories import make_petition, make_signature, make_user
from tests.support import csrf_token, login, visible_text

HEADER = "last_name;first_name;title;organisation;category;email;departement;show_name"
VALID = (
    "Martin;Alice;Médecin;AP-HP;clinician;alice@example.fr;75;1",
    "Durand;Luc;;;citizen;;;0",
)


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode("utf-8-sig")


@pytest.fixture
def site(make_app, tmp_path):
    """The app, keeping uploads in a temporary folder, with its context pushed."""
    app = make_app(IMPORT_UPLOAD_DIR=str(tmp_path / "imports"))
    with app.app_context():
        ensure_default_categories()
        db.session.commit()
        yield app
        db.session.remove()


@pytest.fixture
def uploads(site, tmp_path):
    return tmp_path / "imports"


@pytest.fixture
def owner(site):
    return make_user("organiser", email="owner@example.org")


@pytest.fixture
def petition(owner):
    return make_petition(owner_id=owner.id)


def as_user(site, user):
    """A logged-in client reading the workspace in English."""
    client = site.test_client()
    client.set_cookie(LANGUAGE_COOKIE, "en")
    login(client, user)
    return client


def session_csrf_token(client) -> str:
    """The session's CSRF token, from the logout form every workspace page has."""
    page = client.get("/admin/").get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*? value="([^"]+)"', page).group(1)


def upload(client, petition, content=None, *, mode="confirmed", skip_invalid=False, **extra):
    path = f"/admin/p/{petition.slug}/import"
    data = {"csrf_token": csrf_token(client, path), "mode": mode, "source": "", **extra}
    if content is not None:
        data["file"] = (io.BytesIO(content), "liste papier.csv")
    if skip_invalid:
        data["skip_invalid"] = "y"
    return client.post(path, data=data, content_type="multipart/form-data")


def confirm(client, petition):
    token = session_csrf_token(client)
    return client.post(f"/admin/p/{petition.slug}/import/confirm", data={"csrf_token": token})


def signatures() -> list[Signature]:
    db.session.expire_all()
    return list(db.session.scalars(select(Signature).order_by(Signature.id)))


def import_entries() -> list[AuditEntry]:
    return list(
        db.session.scalars(select(AuditEntry).where(AuditEntry.action == "signatures imported"))
    )


# --- Who may ---------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(site, petition, uploads):
    client = site.test_client()
    # A valid token, so that the login guard answers rather than the CSRF check.
    data = {"csrf_token": csrf_token(client, "/admin/login")}
    for method, path in [
        ("get", f"/admin/p/{petition.slug}/import"),
        ("post", f"/admin/p/{petition.slug}/import"),
        ("get", f"/admin/p/{petition.slug}/import/preview"),
        ("post", f"/admin/p/{petition.slug}/import/confirm"),
    ]:
        response = getattr(client, method)(path, data=data if method == "post" else None)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/admin/login")
    assert signatures() == [] and not uploads.exists()


@pytest.mark.parametrize("who", ["unassigned moderator", "assigned moderator", "other organiser"])
def test_only_managers_of_the_petition_reach_the_import_pages(site, petition, uploads, who):
    if who == "other organiser":
        user = make_user("organiser")
        make_petition(owner_id=user.id)
    else:
        user = make_user("moderator")
        if who == "assigned moderator":
            assign_moderator(petition, user)
    client = as_user(site, user)
    token = session_csrf_token(client)
    base = f"/admin/p/{petition.slug}/import"
    assert client.get(base).status_code == 404
    data = {
        "csrf_token": token,
        "mode": "confirmed",
        "file": (io.BytesIO(csv_bytes(*VALID)), "l.csv"),
    }
    assert client.post(base, data=data, content_type="multipart/form-data").status_code == 404
    assert client.get(f"{base}/preview").status_code == 404
    assert client.post(f"{base}/confirm", data={"csrf_token": token}).status_code == 404
    assert signatures() == [] and not uploads.exists()


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_the_owner_and_admins_import_a_list_after_its_preview(site, petition, owner, role):
    user = owner if role == "owner" else make_user("admin")
    client = as_user(site, user)
    assert client.get(f"/admin/p/{petition.slug}/import").status_code == 200
    response = upload(client, petition, csv_bytes(*VALID))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/p/{petition.slug}/import/preview"
    assert signatures() == []
    assert client.get(response.headers["Location"]).status_code == 200
    done = confirm(client, petition)
    assert done.status_code == 303
    assert [s.last_name for s in signatures()] == ["Martin", "Durand"]
    assert {s.imported_by_id for s in signatures()} == {user.id}
    (entry,) = import_entries()
    assert (entry.actor_id, entry.count, entry.petition_id) == (user.id, 2, petition.id)
    assert "liste papier.csv" in entry.detail and "via: workspace" in entry.detail


# --- Upload, preview, confirm ----------------------------------------------------------------


def test_preview_shows_counts_errors_and_lines_as_published_and_imports_nothing(
    site, petition, owner
):
    make_signature(petition, email="deja@example.fr")
    client = as_user(site, owner)
    content = csv_bytes(
        *VALID,
        "Déjà;Là;;;citizen;deja@example.fr;;1",
        "Petit;http://spam.example.com;;;citizen;;;1",
    )
    upload(client, petition, content, skip_invalid=True)
    page = visible_text(
        client.get(f"/admin/p/{petition.slug}/import/preview").get_data(as_text=True)
    )
    assert "New signatures 2" in page
    assert "Duplicates, left out (already on the petition, or earlier in the file) 1" in page
    assert "Invalid lines 1" in page
    assert "5 first_name A name cannot contain a web address." in page
    assert "2 Clinicians Martin Alice, Médecin, AP-HP" in page
    assert "3 Citizens Counted, not published" in page
    assert "Import 2 signatures" in page
    assert len(signatures()) == 1 and import_entries() == []


def test_invalid_lines_block_the_import_unless_they_are_to_be_skipped(site, petition, owner):
    client = as_user(site, owner)
    upload(client, petition, csv_bytes(*VALID, "Petit;Léa;;;nope;;;1"))
    page = client.get(f"/admin/p/{petition.slug}/import/preview").get_data(as_text=True)
    assert "/import/confirm" not in page
    assert "Nothing can be imported while a line is invalid" in visible_text(page)
    response = confirm(client, petition)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/import/preview")
    assert signatures() == [] and import_entries() == []


def test_values_from_the_file_are_escaped_in_the_preview(site, petition, owner):
    client = as_user(site, owner)
    upload(client, petition, csv_bytes("Martin;Alice;;;<script>x</script>;;;1"))
    page = client.get(f"/admin/p/{petition.slug}/import/preview").get_data(as_text=True)
    assert "<script>x" not in page
    assert "&lt;script&gt;x" in page


def test_upload_without_file_or_mode_is_refused_with_messages(site, petition, owner, uploads):
    client = as_user(site, owner)
    response = upload(client, petition, None, mode="")
    page = visible_text(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "Choose a CSV file." in page
    assert "Choose how the signatures are confirmed." in page
    assert not uploads.exists() or not any(uploads.iterdir())
    assert client.get(f"/admin/p/{petition.slug}/import/preview").status_code == 303


def test_upload_without_csrf_token_is_refused_and_stores_nothing(site, petition, owner, uploads):
    client = as_user(site, owner)
    response = client.post(
        f"/admin/p/{petition.slug}/import",
        data={"mode": "confirmed", "file": (io.BytesIO(csv_bytes(*VALID)), "l.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)
    assert not uploads.exists() or not any(uploads.iterdir())
    preview = client.get(f"/admin/p/{petition.slug}/import/preview")
    assert preview.status_code == 303 and signatures() == []


def test_confirm_without_csrf_token_is_refused(site, petition, owner):
    client = as_user(site, owner)
    upload(client, petition, csv_bytes(*VALID))
    response = client.post(f"/admin/p/{petition.slug}/import/confirm")
    assert response.status_code == 400
    assert signatures() == []


def test_a_list_of_ten_thousand_signers_fits_in_the_upload(site, petition, owner):
    lines = [
        f"Nom{n};Prénom{n};Titre {n};Organisation numéro {n};citizen;s{n}@example.org;75;1"
        for n in range(12_000)
    ]
    content = csv_bytes(*lines)
    assert len(content) > site.config["MAX_CONTENT_LENGTH"]
    client = as_user(site, owner)
    assert upload(client, petition, content).status_code == 303
    page = visible_text(
        client.get(f"/admin/p/{petition.slug}/import/preview").get_data(as_text=True)
    )
    assert "New signatures 12,000" in page


def test_the_uploaded_file_is_kept_encrypted_and_deleted_by_the_import(
    site, petition, owner, uploads
):
    client = as_user(site, owner)
    upload(client, petition, csv_bytes(*VALID))
    (stored,) = uploads.glob("*.csv.enc")
    assert b"alice@example.fr" not in stored.read_bytes()
    assert confirm(client, petition).status_code == 303
    assert list(uploads.glob("*")) == []
    # The same confirmation again finds nothing to import.
    assert confirm(client, petition).status_code == 303
    assert len(signatures()) == 2 and len(import_entries()) == 1


def test_a_pending_upload_is_for_one_petition_only(site, petition, owner):
    other = make_petition(owner_id=owner.id)
    client = as_user(site, owner)
    upload(client, petition, csv_bytes(*VALID))
    response = confirm(client, other)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/p/{other.slug}/import"
    assert signatures() == []


def test_uploads_expire_after_an_hour(site):
    now = utcnow()
    token = keep_upload(b"last_name\n", now)
    assert load_upload(token, now + timedelta(minutes=59)) == b"last_name\n"
    assert load_upload(token, now + timedelta(minutes=61)) is None
    discard_stale_uploads(now + timedelta(hours=2))
    assert load_upload(token, now) is None


def test_send_confirmation_from_the_workspace_leaves_signatures_pending(site, petition, owner):
    client = as_user(site, owner)
    upload(client, petition, csv_bytes(VALID[0]), mode="send-confirmation")
    response = confirm(client, petition)
    assert response.status_code == 303
    (signature,) = signatures()
    assert signature.status == SignatureStatus.PENDING and signature.confirmation_sends == 1
    page = visible_text(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "1 signature imported." in page


def test_archived_petition_takes_no_import(site, owner):
    petition = make_petition(owner_id=owner.id, status=PetitionStatus.ARCHIVED)
    client = as_user(site, owner)
    upload(client, petition, csv_bytes(*VALID))
    response = client.get(f"/admin/p/{petition.slug}/import/preview")
    assert response.status_code == 303
    assert signatures() == []


def test_the_first_signatories_box_imports_names_attested_by_the_uploader(site, petition, owner):
    client = as_user(site, owner)
    upload(client, petition, csv_bytes(*VALID), first_signatories="y")
    preview = visible_text(client.get(f"/admin/p/{petition.slug}/import/preview").text)
    assert "First signatories yes: listed first, attested by you" in preview
    assert confirm(client, petition).status_code == 303
    rows = signatures()
    assert {(s.first_signatory, s.verification_level, s.attested_by_id) for s in rows} == {
        (True, "attested", owner.id)
    }
    (entry,) = import_entries()
    assert "first signatories, attested" in entry.detail
    # Without the box, a later list is not.
    upload(client, petition, csv_bytes("Petit;Léa;;;citizen;;;1"))
    confirm(client, petition)
    assert [(s.last_name, s.first_signatory) for s in signatures()][-1] == ("Petit", False)
