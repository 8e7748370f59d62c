"""Marking first signatories one by one in the workspace table: organisers only, a position
or the order of names, an attestation recorded, and bad input that changes nothing."""

from sqlalchemy import select

from campaign.audit import AuditEntry
from campaign.extensions import db
from campaign.signatures.models import Signature
from campaign.signatures.services import first_signatories
from tests.factories import make_signature
from tests.support import english_client, visible_text
from tests.workspace.test_moderation import base, fresh, session_token


def test_an_organiser_marks_moves_and_unmarks_a_first_signatory(app, petition, owner):
    client = english_client(app, owner)
    hugo = make_signature(petition, last_name="Hugo", verification_level="none")
    zola = make_signature(petition, last_name="Zola", verification_level="email")
    token = session_token(client)
    table = visible_text(client.get(base(petition)).text)
    assert "First signatory" in table

    response = client.post(f"{base(petition)}/{hugo.id}/first", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == base(petition)
    client.post(f"{base(petition)}/{zola.id}/first", data={"csrf_token": token, "position": "1"})
    assert [s.last_name for s in first_signatories(petition.id)] == ["Zola", "Hugo"]
    row = fresh(zola.id)
    assert (row.first_position, row.verification_level, row.attested_by_id) == (
        1,
        "attested",
        owner.id,
    )
    assert "First signatory (position 1) · First signatory, attested by the organisers" in (
        visible_text(client.get(base(petition)).text)
    )
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "first signatory attested")
    ).all()
    assert [(e.actor, e.detail) for e in entries] == [
        (owner.email, f"signature {hugo.id}: by name; level attested"),
        (owner.email, f"signature {zola.id}: position 1; level attested"),
    ]

    client.post(f"{base(petition)}/{zola.id}/unfirst", data={"csrf_token": token})
    row = fresh(zola.id)
    assert (row.first_signatory, row.verification_level) == (False, "email")


def test_a_bad_position_or_a_moderator_changes_nothing(app, petition, owner, moderator):
    signature = make_signature(petition, last_name="Sand")
    client = english_client(app, owner)
    token = session_token(client)
    for position in ("0", "-3", "abc", "10001"):
        response = client.post(
            f"{base(petition)}/{signature.id}/first",
            data={"csrf_token": token, "position": position},
            follow_redirects=True,
        )
        assert "A number from 1 to 10000." in visible_text(response.text) or (
            "Not a valid integer value." in visible_text(response.text)
        )
    assert fresh(signature.id).first_signatory is False
    assert client.post(f"{base(petition)}/{signature.id}/first").status_code == 400

    as_moderator = english_client(app, moderator)
    token = session_token(as_moderator)
    response = as_moderator.post(
        f"{base(petition)}/{signature.id}/first", data={"csrf_token": token}
    )
    assert response.status_code == 404
    assert f'{signature.id}/first"' not in as_moderator.get(base(petition)).text
    assert db.session.get(Signature, signature.id).attested_at is None


def ordering(petition) -> str:
    return f"/admin/p/{petition.slug}/first-signatories"


def names_in_order(petition) -> list[str]:
    db.session.expire_all()
    return [s.last_name for s in first_signatories(petition.id)]


def test_the_order_is_saved_whole_with_one_post_and_audited(app, petition, owner):
    client = english_client(app, owner)
    token = session_token(client)
    zola, hugo, sand = (make_signature(petition, last_name=n) for n in ("Zola", "Hugo", "Sand"))
    for signature in (zola, hugo, sand):
        client.post(f"{base(petition)}/{signature.id}/first", data={"csrf_token": token})
    assert names_in_order(petition) == ["Hugo", "Sand", "Zola"]  # by name
    page = client.get(ordering(petition))
    assert page.status_code == 200
    assert "Move up Hugo" in visible_text(page.text)
    assert f'value="{hugo.id},{sand.id},{zola.id}"' in page.text

    order = f"{zola.id},{hugo.id},{sand.id}"
    response = client.post(
        f"{ordering(petition)}/order", data={"csrf_token": token, "order": order}
    )
    assert response.status_code == 303 and response.headers["Location"] == ordering(petition)
    assert names_in_order(petition) == ["Zola", "Hugo", "Sand"]
    assert [fresh(s.id).first_position for s in (zola, hugo, sand)] == [1, 2, 3]
    [entry] = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "first signatories reordered")
    ).all()
    assert (entry.actor, entry.detail, entry.count) == (
        owner.email,
        f"order: {order.replace(',', ' ')}",
        3,
    )
    assert "The order of the first signatories is saved." in visible_text(
        client.get(ordering(petition)).text
    )


def test_move_up_and_down_are_forms_that_work_without_javascript(app, petition, owner):
    client = english_client(app, owner)
    token = session_token(client)
    signatures = [make_signature(petition, last_name=n) for n in ("Arendt", "Beauvoir", "Curie")]
    for signature in signatures:
        client.post(f"{base(petition)}/{signature.id}/first", data={"csrf_token": token})
    curie = signatures[2]
    page = client.get(ordering(petition)).text
    assert f'action="{ordering(petition)}/{curie.id}/up"' in page

    response = client.post(f"{ordering(petition)}/{curie.id}/up", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == f"{ordering(petition)}#first-{curie.id}"
    assert names_in_order(petition) == ["Arendt", "Curie", "Beauvoir"]
    client.post(f"{ordering(petition)}/{curie.id}/up", data={"csrf_token": token})
    assert names_in_order(petition) == ["Curie", "Arendt", "Beauvoir"]
    # Already first: nothing moves, nothing is audited.
    client.post(f"{ordering(petition)}/{curie.id}/up", data={"csrf_token": token})
    client.post(f"{ordering(petition)}/{signatures[0].id}/down", data={"csrf_token": token})
    assert names_in_order(petition) == ["Curie", "Beauvoir", "Arendt"]
    audited = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "first signatories reordered")
    ).all()
    assert len(audited) == 3


def test_a_stale_or_forged_order_changes_nothing(app, petition, owner, moderator):
    client = english_client(app, owner)
    token = session_token(client)
    first, second = (make_signature(petition, last_name=n) for n in ("Aubrac", "Bloch"))
    other = make_signature(petition, last_name="Cassin")
    for signature in (first, second):
        client.post(f"{base(petition)}/{signature.id}/first", data={"csrf_token": token})
    for order in (f"{second.id}", f"{second.id},{first.id},{other.id}", f"{first.id},{first.id}"):
        response = client.post(
            f"{ordering(petition)}/order",
            data={"csrf_token": token, "order": order},
            follow_redirects=True,
        )
        assert "The first signatories changed meanwhile" in visible_text(response.text)
    assert names_in_order(petition) == ["Aubrac", "Bloch"]
    assert client.post(f"{ordering(petition)}/order", data={"order": "1"}).status_code == 400
    bad = client.post(f"{ordering(petition)}/order", data={"csrf_token": token, "order": "x"})
    assert bad.status_code == 400
    response = client.post(
        f"{ordering(petition)}/{other.id}/down", data={"csrf_token": token}, follow_redirects=True
    )
    assert "This signature is not a first signatory" in visible_text(response.text)

    as_moderator = english_client(app, moderator)
    token = session_token(as_moderator)
    assert as_moderator.get(ordering(petition)).status_code == 404
    response = as_moderator.post(
        f"{ordering(petition)}/order",
        data={"csrf_token": token, "order": f"{second.id},{first.id}"},
    )
    assert response.status_code == 404
    assert names_in_order(petition) == ["Aubrac", "Bloch"]
