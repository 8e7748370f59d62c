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
