"""The workspace pages of a petition: creating, editing with preview and pinned text versions,
the lifecycle buttons, and the public version history."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import url_for
from sqlalchemy import func, select

from campaign.accounts.services import assign_moderator
from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.petitions.models import Category, Petition, PetitionStatus, PetitionText
from campaign.signatures.models import Signature, SignatureStatus
from tests.factories import make_petition, make_signature, make_user
from tests.support import csrf_token, login, sign, sign_data, visible_text

NEW = "/admin/petitions/new"


# --- Helpers -----------------------------------------------------------------------------------


def new_petition_data(**overrides) -> dict:
    """A valid submission of the new petition form."""
    data = {
        "slug": "sante-souveraine",
        "language": "fr",
        "title_fr": "Nos données de santé",
        "summary_fr": "Un résumé.",
        "body_fr": "Le texte **important**.",
        "title_en": "Our health data",
        "summary_en": "",
        "body_en": "The **important** text.",
        "goal": "500",
        "categories": ["clinician", "citizen"],
        "opens_at": "",
        "closes_at": "",
        "save": "Save",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def edit_data(petition: Petition, **overrides) -> dict:
    """The edit form as the page fills it, with `overrides` applied."""
    db.session.refresh(petition)
    data = {
        "slug": petition.slug,
        "language": petition.language,
        "goal": str(petition.goal),
        "categories": [category.key for category in petition.categories],
        "opens_at": "",
        "closes_at": "",
        "base_version": str(petition.current_version),
        "save": "Save",
    }
    for text in petition.current_texts():
        data[f"title_{text.language}"] = text.title
        data[f"summary_{text.language}"] = text.summary
        data[f"body_{text.language}"] = text.body
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def post(client, path: str, data: dict, token_from: str | None = None):
    token = csrf_token(client, token_from or path)
    return client.post(path, data={"csrf_token": token, **data})


def edit(client, petition: Petition, **overrides):
    path = f"/admin/p/{petition.slug}/edit"
    return post(client, path, edit_data(petition, **overrides))


def step(client, petition: Petition, name: str):
    return post(
        client, f"/admin/p/{petition.slug}/lifecycle/{name}", {}, f"/admin/p/{petition.slug}"
    )


def reload(petition: Petition) -> Petition:
    db.session.expire_all()
    return db.session.get(Petition, petition.id)


def petitions() -> int:
    return db.session.scalar(select(func.count(Petition.id)))


def text_rows(petition: Petition) -> list[tuple]:
    rows = db.session.scalars(
        select(PetitionText)
        .where(PetitionText.petition_id == petition.id)
        .order_by(PetitionText.version, PetitionText.language)
    )
    return [(row.version, row.language, row.title, row.summary, row.body) for row in rows]


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def petition_audit(petition: Petition) -> list[tuple[str, str, int]]:
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.petition_id == petition.id).order_by(AuditEntry.id)
    )
    return [(entry.action, entry.detail, entry.count) for entry in entries]


@pytest.fixture
def owner(app):
    return make_user("organiser")


@pytest.fixture
def organiser(client, owner):
    """A client logged in as the owner organiser, reading English."""
    client.get("/language/en?next=/")
    login(client, owner)
    return client


@pytest.fixture
def draft(owner):
    return make_petition(owner_id=owner.id, status=PetitionStatus.DRAFT, slug="brouillon")


@pytest.fixture
def signed(owner):
    """An open petition owned by `owner`, with two confirmed signatures and one pending."""
    petition = make_petition(owner_id=owner.id, slug="signee")
    make_signature(petition)
    make_signature(petition)
    make_signature(petition, status=SignatureStatus.PENDING, confirmed_at=None)
    return petition


# --- Who may use these pages -----------------------------------------------------------------


def petition_routes(slug: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"/admin/p/{slug}"),
        ("GET", f"/admin/p/{slug}/edit"),
        ("POST", f"/admin/p/{slug}/edit"),
        ("POST", f"/admin/p/{slug}/lifecycle/close"),
    ]


def test_anonymous_visitors_are_sent_to_login_from_every_petition_page(app):
    petition = make_petition(slug="publique")
    client = app.test_client()
    token = csrf_token(client, "/admin/login")
    for method, path in [("GET", NEW), ("POST", NEW), *petition_routes(petition.slug)]:
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data={"csrf_token": token})
        assert response.status_code == 302, (method, path)
        assert response.headers["Location"].startswith("/admin/login"), (method, path)
    assert reload(petition).status == PetitionStatus.OPEN and petitions() == 1


@pytest.mark.parametrize("who", ["other_organiser", "unassigned_moderator", "assigned_moderator"])
def test_people_who_do_not_manage_the_petition_get_404_and_change_nothing(app, owner, who):
    petition = make_petition(owner_id=owner.id, slug="a-autrui")
    user = make_user("moderator" if "moderator" in who else "organiser")
    if who == "assigned_moderator":
        assign_moderator(petition, user)
    client = app.test_client()
    login(client, user)
    for method, path in petition_routes(petition.slug):
        if method == "GET":
            response = client.get(path)
        else:
            data = {"csrf_token": csrf_token(client, "/admin/"), **edit_data(petition, goal="7")}
            response = client.post(path, data=data)
        assert response.status_code == 404, (who, method, path)
    petition = reload(petition)
    assert petition.status == PetitionStatus.OPEN and petition.goal == 100
    assert not [action for action in audit_actions() if action.startswith("petition")]


@pytest.mark.parametrize("role", ["admin", "owner"])
def test_owner_and_admins_see_the_petition_pages(app, owner, role):
    petition = make_petition(owner_id=owner.id, slug="geree")
    client = app.test_client()
    login(client, owner if role == "owner" else make_user("admin"))
    assert client.get(f"/admin/p/{petition.slug}").status_code == 200
    assert client.get(f"/admin/p/{petition.slug}/edit").status_code == 200
    assert step(client, petition, "close").status_code == 303
    assert reload(petition).status == PetitionStatus.CLOSED


def test_moderators_cannot_create_petitions(app):
    client = app.test_client()
    login(client, make_user("moderator"))
    assert client.get(NEW).status_code == 404
    token = csrf_token(client, "/admin/")
    assert client.post(NEW, data={"csrf_token": token, **new_petition_data()}).status_code == 404
    assert petitions() == 0
    assert "New petition" not in visible_text(client.get("/admin/").get_data(as_text=True))


def test_admins_create_petitions_too(app):
    admin = make_user("admin")
    client = app.test_client()
    login(client, admin)
    assert post(client, NEW, new_petition_data()).status_code == 303
    assert db.session.scalar(select(Petition.owner_id)) == admin.id


# --- Creating ----------------------------------------------------------------------------------


def test_dashboard_offers_a_new_petition_and_links_each_title(organiser, owner):
    petition = make_petition(owner_id=owner.id, title="Ma pétition", slug="ma-petition")
    html = organiser.get("/admin/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert f'href="{NEW}"' in html and "New petition" in html
    assert '<a href="/admin/p/ma-petition">Ma pétition</a>' in html
    assert petition.slug in html


def test_creating_makes_a_draft_owned_by_its_author_with_version_one(organiser, owner):
    response = post(organiser, NEW, new_petition_data(opens_at="2026-07-01T12:00"))
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/p/sante-souveraine"
    petition = db.session.scalar(select(Petition))
    assert (petition.slug, petition.status, petition.owner_id) == (
        "sante-souveraine",
        PetitionStatus.DRAFT,
        owner.id,
    )
    assert petition.goal == 500 and petition.current_version == 1
    # Entered in Paris time (summer: UTC+2), stored in UTC.
    assert petition.opens_at == datetime(2026, 7, 1, 10, 0) and petition.closes_at is None
    assert [category.key for category in petition.categories] == ["clinician", "citizen"]
    assert text_rows(petition) == [
        (1, "en", "Our health data", "", "The **important** text."),
        (1, "fr", "Nos données de santé", "Un résumé.", "Le texte **important**."),
    ]
    assert petition_audit(petition) == [("petition created", "sante-souveraine", 0)]
    # A draft is not public.
    assert organiser.get("/p/sante-souveraine").status_code == 404


def test_english_text_is_optional(organiser):
    data = new_petition_data(title_en="", summary_en="", body_en="")
    assert post(organiser, NEW, data).status_code == 303
    assert [text.language for text in db.session.scalar(select(Petition)).texts] == ["fr"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"slug": "Avec Espaces"}, "Use lowercase letters, digits and hyphens only."),
        ({"slug": "accentuée"}, "Use lowercase letters, digits and hyphens only."),
        ({"slug": "-tiret"}, "Use lowercase letters, digits and hyphens only."),
        ({"slug": ""}, "Choose an address."),
        ({"title_fr": "", "body_fr": ""}, "Enter a title."),
        ({"body_en": ""}, "Enter the text."),
        ({"language": "en", "title_en": "", "body_en": ""}, "Enter a title."),
        ({"language": "de"}, "Not a valid choice"),
        ({"goal": "0"}, "Enter a number from 1 upwards."),
        ({"goal": "many"}, "Not a valid integer value"),
        ({"categories": []}, "Offer at least one category."),
        ({"categories": ["astronaut"]}, "is not a valid choice"),
        (
            {"opens_at": "2026-07-02T12:00", "closes_at": "2026-07-01T12:00"},
            "The closing date must come after the opening.",
        ),
        ({"title_fr": "Titre\u202eà l'envers"}, "characters that are not allowed"),
    ],
)
def test_bad_input_rerenders_the_form_with_a_message_and_creates_nothing(
    organiser, overrides, message
):
    response = post(organiser, NEW, new_petition_data(**overrides))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in visible_text(html) or message in html
    assert 'aria-invalid="true"' in html or "categories-error" in html
    assert petitions() == 0 and audit_actions() == ["login"]


def test_an_address_already_taken_is_refused(organiser):
    make_petition(slug="sante-souveraine")
    response = post(organiser, NEW, new_petition_data())
    assert response.status_code == 422
    assert "This address is taken" in visible_text(response.get_data(as_text=True))
    assert petitions() == 1


def test_custom_categories_join_the_shared_list_and_are_offered(organiser):
    data = new_petition_data(
        categories=["citizen"],
        **{
            "new_categories-0-key": "pharmacist",
            "new_categories-0-label_fr": "Pharmaciennes et pharmaciens",
            "new_categories-0-label_en": "Pharmacists",
        },
    )
    assert post(organiser, NEW, data).status_code == 303
    category = db.session.get(Category, "pharmacist")
    assert (category.label_fr, category.label_en) == ("Pharmaciennes et pharmaciens", "Pharmacists")
    assert category.position > db.session.get(Category, "citizen").position
    petition = db.session.scalar(select(Petition))
    assert [category.key for category in petition.categories] == ["citizen", "pharmacist"]
    assert "category created" in audit_actions()
    # Offered in the next petition's checkboxes.
    assert 'value="pharmacist"' in organiser.get(NEW).get_data(as_text=True)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("citizen", "Citoyens", "Citizens"), "This category exists already"),
        (("pharmacist", "", "Pharmacists"), "Fill in the key and both labels, or none."),
        (("Pharma Cist", "Pharmaciens", "Pharmacists"), "Use lowercase letters"),
    ],
)
def test_bad_custom_category_changes_nothing(organiser, row, message):
    key, label_fr, label_en = row
    data = new_petition_data(
        **{
            "new_categories-0-key": key,
            "new_categories-0-label_fr": label_fr,
            "new_categories-0-label_en": label_en,
        }
    )
    response = post(organiser, NEW, data)
    assert response.status_code == 422
    assert message in visible_text(response.get_data(as_text=True))
    assert petitions() == 0
    assert db.session.scalar(select(func.count(Category.key))) == 6


def test_preview_renders_sanitised_markdown_and_saves_nothing(organiser):
    data = new_petition_data(
        body_fr="## Nous demandons\n\n<script>alert(1)</script> [lien](javascript:alert(2))",
        title_fr="<b>Titre</b>",
        preview="Preview",
    )
    data.pop("save")
    response = post(organiser, NEW, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h2>Nous demandons</h2>" in html
    assert "<script>" not in html and "javascript:" not in html.split("<form")[0]
    assert "&lt;b&gt;Titre&lt;/b&gt;" in html
    # The form comes back filled, for saving afterwards.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert petitions() == 0 and audit_actions() == ["login"]


# --- Editing and text versions -------------------------------------------------------------


def test_editing_a_draft_without_signatures_changes_the_current_version_in_place(organiser, draft):
    response = edit(organiser, draft, title_fr="Nouveau titre", body_fr="Nouveau texte.")
    assert response.status_code == 303
    petition = reload(draft)
    assert petition.current_version == 1
    assert [row for row in text_rows(petition) if row[1] == "fr"] == [
        (1, "fr", "Nouveau titre", "", "Nouveau texte.")
    ]
    assert petition_audit(petition) == [("petition edited", "texts", 0)]


def test_draft_address_may_change_but_a_public_one_may_not(organiser, draft, signed):
    assert edit(organiser, draft, slug="nouvelle-adresse").status_code == 303
    assert reload(draft).slug == "nouvelle-adresse"
    form = organiser.get(f"/admin/p/{signed.slug}/edit").get_data(as_text=True)
    assert 'name="slug"' not in form
    assert edit(organiser, signed, slug="ailleurs", goal="300").status_code == 303
    petition = reload(signed)
    assert petition.slug == "signee" and petition.goal == 300


def test_resubmitting_unchanged_texts_changes_nothing(organiser, signed):
    before = text_rows(signed)
    # Browsers send textareas with CRLF line ends.
    body = signed.text("fr").body.replace("\n", "\r\n") + "\r\n"
    response = edit(organiser, signed, body_fr=body)
    assert response.status_code == 303
    assert text_rows(signed) == before and reload(signed).current_version == 1
    assert petition_audit(signed) == []


def test_substantive_edit_after_signatures_asks_for_confirmation_with_the_diff(organiser, signed):
    before = text_rows(signed)
    response = edit(organiser, signed, body_fr="Texte <em>vraiment</em> **important**.")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    text = visible_text(html)
    assert "I understand that 3 people signed version 1; this publishes version 2." in text
    assert "Review the changes before publishing version 2" in text
    assert 'name="confirm_new_version"' in html
    assert "<ins>" in html and "&lt;em&gt;vraiment&lt;/em&gt;" in html
    assert "<em>vraiment" not in html
    petition = reload(signed)
    assert text_rows(petition) == before and petition.current_version == 1
    assert petition_audit(petition) == []


def test_confirmed_substantive_edit_publishes_a_new_version_and_keeps_the_old_one(
    organiser, signed
):
    before = text_rows(signed)
    response = edit(
        organiser,
        signed,
        title_fr="Titre révisé",
        body_fr="Texte révisé.",
        confirm_new_version="y",
    )
    assert response.status_code == 303
    petition = reload(signed)
    assert petition.current_version == 2
    rows = text_rows(petition)
    assert rows[:2] == before
    assert rows[2:] == [
        (2, "en", before[0][2], before[0][3], before[0][4]),
        (2, "fr", "Titre révisé", "", "Texte révisé."),
    ]
    # Signatures stay pinned to what they endorsed; new ones endorse version 2.
    assert set(db.session.scalars(select(Signature.text_version))) == {1}
    assert petition_audit(petition) == [("petition version published", "version 2", 3)]
    assert petition.text("fr").title == "Titre révisé"
    assert petition.text("fr", version=1).title == before[1][2]
    sign(organiser, petition, email="new@example.org")
    newest = db.session.scalar(select(Signature).order_by(Signature.id.desc()))
    assert newest.text_version == 2


def test_adding_a_translation_after_signatures_is_a_substantive_edit(organiser, owner):
    petition = make_petition(owner_id=owner.id, slug="sans-anglais")
    petition.texts = [text for text in petition.texts if text.language == "fr"]
    db.session.commit()
    make_signature(petition)
    response = edit(organiser, petition, title_en="In English", body_en="The text.")
    text = visible_text(response.get_data(as_text=True))
    assert "I understand that 1 person signed version 1; this publishes version 2." in text
    assert reload(petition).current_version == 1


def test_a_confirmation_for_an_older_version_is_asked_again(organiser, signed):
    edit(organiser, signed, body_fr="Deuxième.", confirm_new_version="y")
    stale = edit(organiser, signed, body_fr="Troisième.", confirm_new_version="y", base_version="1")
    assert stale.status_code == 200 and 'name="confirm_new_version"' in stale.get_data(as_text=True)
    assert 'name="base_version" type="hidden" value="2"' in stale.get_data(as_text=True)
    assert reload(signed).current_version == 2


def test_withdrawn_signatures_do_not_pin_the_text(organiser, owner):
    petition = make_petition(owner_id=owner.id, slug="retiree")
    make_signature(petition, status=SignatureStatus.WITHDRAWN)
    assert edit(organiser, petition, body_fr="Autre texte.").status_code == 303
    petition = reload(petition)
    assert petition.current_version == 1 and petition.text("fr").body == "Autre texte."


def test_summary_change_after_signatures_publishes_a_version_without_confirmation(
    organiser, signed
):
    assert edit(organiser, signed, summary_fr="Résumé plus clair.").status_code == 303
    petition = reload(signed)
    assert petition.current_version == 2 and petition.text("fr").summary == "Résumé plus clair."
    assert petition.text("fr", version=1).summary == ""


def test_goal_dates_and_categories_change_without_confirmation_nor_new_version(organiser, signed):
    before = text_rows(signed)
    closes = (utcnow() + timedelta(days=30)).replace(second=0, microsecond=0)
    response = edit(
        organiser,
        signed,
        goal="2000",
        closes_at=closes.strftime("%Y-%m-%dT%H:%M"),
        categories=["citizen", "researcher", "engineer"],
    )
    assert response.status_code == 303
    petition = reload(signed)
    assert petition.goal == 2000 and petition.current_version == 1
    assert petition.closes_at is not None
    assert [category.key for category in petition.categories] == [
        "researcher",
        "engineer",
        "citizen",
    ]
    assert text_rows(petition) == before
    assert petition_audit(petition) == [("petition edited", "goal, dates, categories", 0)]


def test_a_category_signatories_chose_cannot_be_unticked(organiser, signed):
    response = edit(organiser, signed, categories=["clinician"], goal="999")
    assert response.status_code == 422
    assert "stays offered" in visible_text(response.get_data(as_text=True))
    petition = reload(signed)
    assert petition.goal == 100 and len(petition.categories) == 6


def test_archived_petitions_cannot_be_edited(organiser, owner):
    petition = make_petition(owner_id=owner.id, status=PetitionStatus.ARCHIVED, slug="archive")
    response = organiser.get(f"/admin/p/{petition.slug}/edit")
    assert response.status_code == 303
    token = csrf_token(organiser, f"/admin/p/{petition.slug}")
    data = {"csrf_token": token, **edit_data(petition, goal="5")}
    organiser.post(f"/admin/p/{petition.slug}/edit", data=data)
    assert reload(petition).goal == 100


def test_edit_preview_shows_the_rendering_and_changes_nothing(organiser, signed):
    before = text_rows(signed)
    data = edit_data(signed, body_fr="*Aperçu*", preview="Preview")
    data.pop("save")
    response = post(organiser, f"/admin/p/{signed.slug}/edit", data)
    assert response.status_code == 200 and "<em>Aperçu</em>" in response.get_data(as_text=True)
    assert text_rows(signed) == before and petition_audit(signed) == []


# --- Lifecycle ---------------------------------------------------------------------------------


def test_lifecycle_goes_draft_open_closed_reopened_closed_archived_and_is_audited(organiser, draft):
    for name, status in [
        ("open", PetitionStatus.OPEN),
        ("close", PetitionStatus.CLOSED),
        ("reopen", PetitionStatus.OPEN),
        ("close", PetitionStatus.CLOSED),
        ("archive", PetitionStatus.ARCHIVED),
    ]:
        response = step(organiser, draft, name)
        assert response.status_code == 303
        assert response.headers["Location"] == f"/admin/p/{draft.slug}"
        assert reload(draft).status == status
    assert petition_audit(draft) == [
        ("petition opened", "draft → open", 0),
        ("petition closed", "open → closed", 0),
        ("petition reopened", "closed → open", 0),
        ("petition closed", "open → closed", 0),
        ("petition archived", "closed → archived", 0),
    ]


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (PetitionStatus.DRAFT, "close"),
        (PetitionStatus.DRAFT, "archive"),
        (PetitionStatus.OPEN, "archive"),
        (PetitionStatus.OPEN, "reopen"),
        (PetitionStatus.ARCHIVED, "reopen"),
        (PetitionStatus.ARCHIVED, "open"),
    ],
)
def test_steps_the_state_forbids_change_nothing(organiser, owner, status, name):
    petition = make_petition(owner_id=owner.id, status=status, slug="etat")
    response = step(organiser, petition, name)
    assert response.status_code == 303
    page = organiser.get(response.headers["Location"]).get_data(as_text=True)
    assert "cannot make that change" in visible_text(page)
    assert reload(petition).status == status and petition_audit(petition) == []


def test_unknown_step_is_not_a_route(organiser, signed):
    response = post(organiser, f"/admin/p/{signed.slug}/lifecycle/delete", {}, "/admin/")
    assert response.status_code in (404, 405)


def test_overview_shows_status_counts_and_only_the_allowed_buttons(organiser, signed):
    html = organiser.get(f"/admin/p/{signed.slug}").get_data(as_text=True)
    text = visible_text(html)
    assert "Open: accepting signatures" in text
    assert "2 of a goal of 100" in text and "Awaiting confirmation 1" in text
    assert f'action="/admin/p/{signed.slug}/lifecycle/close"' in html
    assert "lifecycle/archive" not in html and "lifecycle/open" not in html
    assert f'href="/admin/p/{signed.slug}/edit"' in html
    assert 'name="csrf_token"' in html


# --- Public pages ------------------------------------------------------------------------------


def test_archived_petition_shows_a_notice_and_refuses_signatures(app):
    petition = make_petition(status=PetitionStatus.ARCHIVED)
    client = app.test_client()
    page = client.get(f"/p/{petition.slug}", headers={"Accept-Language": "en"})
    assert "This petition is archived" in visible_text(page.get_data(as_text=True))
    assert 'name="first_name"' not in page.get_data(as_text=True)
    token = csrf_token(client, "/admin/login")
    client.post(f"/p/{petition.slug}/sign", data=sign_data(csrf_token=token))
    assert db.session.scalar(select(func.count(Signature.id))) == 0


def test_version_history_shows_each_version_with_its_diff_and_signatures(organiser, signed):
    assert "/versions" not in organiser.get(f"/p/{signed.slug}").get_data(as_text=True)
    edit(organiser, signed, body_fr="Texte <b>très</b> **important**.", confirm_new_version="y")
    make_signature(reload(signed), text_version=2)
    public = organiser.get(f"/p/{signed.slug}").get_data(as_text=True)
    assert f'href="/p/{signed.slug}/versions"' in public
    response = organiser.get(f"/p/{signed.slug}/versions")
    html = response.get_data(as_text=True)
    text = visible_text(html)
    assert response.status_code == 200
    assert "Version 2 (current)" in text and "Version 1" in text
    assert "2 confirmed signatures" in text and "1 confirmed signature" in text
    assert "Changes from version 1" in text
    # Word-level, escaped, announced to screen readers.
    assert (
        '<ins><span class="visually-hidden">[added: </span> &lt;b&gt;très&lt;/b&gt;'
        '<span class="visually-hidden"> end added]</span></ins>'
    ) in html
    assert "<b>très</b>" not in html
    assert html.index("Version 2") < html.index("Version 1")


def test_version_history_of_a_draft_is_not_public(app, draft):
    assert app.test_client().get(f"/p/{draft.slug}/versions").status_code == 404
    assert app.test_client().get("/p/nothing-here/versions").status_code == 404


def test_overview_links_to_the_other_areas_pages_that_exist(organiser, app, signed):
    html = organiser.get(f"/admin/p/{signed.slug}").get_data(as_text=True)
    for endpoint in ("workspace.moderation_table", "workspace.import_signatures"):
        if endpoint in app.view_functions:
            with app.test_request_context():
                assert f'href="{url_for(endpoint, slug=signed.slug)}"' in html


def test_organiser_publishes_the_list_from_the_workspace_and_it_is_audited(app):
    from sqlalchemy import select

    from campaign.audit import AuditEntry
    from campaign.publication.services import latest_publication
    from tests.factories import make_signature

    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    make_signature(petition, last_name="Martin")
    client = app.test_client()
    login(client, owner)
    token = csrf_token(client, f"/admin/p/{petition.slug}")
    response = client.post(f"/admin/p/{petition.slug}/publish", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/p/{petition.slug}/press"
    assert latest_publication(petition.id).entry_count == 1
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "list published"))
    assert entry.count == 1 and entry.actor == owner.email
