"""The follow-up email of issue 4: a publication sends each signer it names for the first
time their receipt, once, through the outbox and a real SMTP server."""

from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mail import outbox as emails
from campaign.mail.outbox import EmailKind, OutboxMessage, OutboxStatus, deliver_outbox_message
from campaign.personal_data import encrypt_email
from campaign.publication.services import publish_snapshot, receipt_for
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import withdraw_signature
from tests.factories import make_petition, make_signature
from tests.publication.lists import insert_signatories
from tests.support import links_in, path_of, text_part


def html_part(message: EmailMessage) -> str:
    """The HTML body of a message."""
    return message.get_body(preferencelist=("html",)).get_content()


def receipts_queued(signature_id: int) -> int:
    """How many receipt emails were ever queued for this signature."""
    return db.session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.signature_id == signature_id,
            OutboxMessage.kind == EmailKind.PUBLICATION_RECEIPT,
        )
    )


@pytest.fixture
def petition(site):
    """An open petition on the site whose mail goes to the test SMTP server."""
    return make_petition(slug="sante", title="Santé publique")


def test_a_newly_published_signer_gets_their_receipt_in_their_language(petition, mailbox):
    alice = make_signature(petition, first_name="Alice", last_name="Martin", title="Médecin",
                           show_title=True, email="alice@example.fr", language="en")  # fmt: skip
    bruno = make_signature(petition, first_name="Bruno", last_name="Bernard",
                           organisation="Clinique du Parc", show_organisation=True,
                           email="bruno@example.org", language="fr")  # fmt: skip
    publication = publish_snapshot(petition, utcnow())
    mailbox.wait_for(2)
    (message,) = mailbox.to("alice@example.fr")
    receipt = receipt_for(alice)
    assert receipt is not None
    text, html = text_part(message), html_part(message)
    assert message["Subject"] == "Your receipt: Santé publique (en)"
    for body in (text, html):
        assert receipt in body
        assert publication.hash in body
    assert f"publication no. {publication.sequence}" in text
    paths = [path_of(link) for link in links_in(text)]
    assert f"/p/sante/proof?receipt={receipt}" in paths
    assert "/p/sante/press" in paths and "/p/sante/my-signature" in paths
    assert f"/p/sante/proof?receipt={receipt}" in [path_of(link) for link in links_in(html)]
    # Nothing personal in a link: neither the address nor the name.
    for link in links_in(text) + links_in(html):
        assert "alice" not in link.lower() and "martin" not in link.lower()
    # Nothing of the other signer.
    raw = message.as_string()
    for other in ("Bruno", "Bernard", "bruno@example.org", "Clinique du Parc", receipt_for(bruno)):
        assert other not in raw
    (french,) = mailbox.to("bruno@example.org")
    assert receipt_for(bruno) in text_part(french) and "(en)" not in french["Subject"]


def test_a_later_publication_sends_no_second_receipt(petition, mailbox):
    alice = make_signature(petition, email="alice@example.fr")
    publish_snapshot(petition, utcnow())
    assert len(mailbox.wait_for(1)) == 1
    # A new signer, and Alice's entry changing (a new leaf): only the newcomer is written to.
    carol = make_signature(petition, email="carol@example.fr")
    alice.title, alice.show_title = "Infirmière", True
    db.session.commit()
    second = publish_snapshot(petition, utcnow() + timedelta(days=1))
    assert second.sequence == 2
    publish_snapshot(petition, utcnow() + timedelta(days=2))
    assert len(mailbox.wait_for(2)) == 2
    assert len(mailbox.to("alice@example.fr")) == 1
    assert len(mailbox.to("carol@example.fr")) == 1
    assert receipt_for(carol) in text_part(mailbox.to("carol@example.fr")[0])
    assert receipts_queued(alice.id) == 1 and receipts_queued(carol.id) == 1


def test_signers_outside_the_publication_get_nothing(petition, mailbox):
    make_signature(petition, email="named@example.fr")
    hidden_name = make_signature(petition, show_name=False, email="anonymous@example.fr")
    pending = make_signature(petition, status=SignatureStatus.PENDING, email="pending@example.fr")
    withdrawn = make_signature(petition, email="withdrawn@example.fr")
    withdraw_signature(withdrawn.id, utcnow())
    no_address = make_signature(petition, email="gone@example.fr")
    no_address.email_ciphertext = None
    db.session.commit()
    publication = publish_snapshot(petition, utcnow())
    assert publication.entry_count == 2
    mailbox.wait_for(1)
    assert [message["To"] for message in mailbox.messages] == ["named@example.fr"]
    for signature in (hidden_name, pending, withdrawn, no_address):
        assert receipts_queued(signature.id) == 0


def test_a_signer_who_withdraws_before_the_email_leaves_gets_nothing(
    petition, mailbox, monkeypatch
):
    later: list[int] = []
    monkeypatch.setattr(emails, "enqueue", lambda job, *ids: later.extend(ids))
    leaving = make_signature(petition, email="leaving@example.fr")
    make_signature(petition, email="staying@example.fr")
    publish_snapshot(petition, utcnow())
    assert len(later) == 2
    withdraw_signature(leaving.id, utcnow())
    for message_id in later:
        deliver_outbox_message(message_id)
    assert [message["To"] for message in mailbox.messages] == ["staying@example.fr"]
    statuses = dict(
        db.session.execute(
            select(OutboxMessage.signature_id, OutboxMessage.status).where(
                OutboxMessage.kind == EmailKind.PUBLICATION_RECEIPT
            )
        ).all()
    )
    assert statuses[leaving.id] == OutboxStatus.SKIPPED


def test_the_daily_publication_sends_the_receipts(site, petition, mailbox):
    make_signature(petition, email="daily@example.fr")
    result = site.test_cli_runner().invoke(args=["publication", "publish-due"])
    assert result.exit_code == 0, result.output
    (message,) = mailbox.wait_for(1)
    assert message["To"] == "daily@example.fr"


def test_thousands_of_newcomers_are_queued_in_one_statement_and_enqueued_after(
    petition, monkeypatch
):
    later: list[int] = []
    monkeypatch.setattr(emails, "enqueue", lambda job, *ids: later.extend(ids))
    insert_signatories(petition, 1200)
    ids = db.session.scalars(select(Signature.id).where(Signature.petition_id == petition.id))
    db.session.execute(
        Signature.__table__.update()
        .where(Signature.id.in_(list(ids)[:1000]))
        .values(email_ciphertext=encrypt_email("bulk@example.fr"))
    )
    db.session.commit()
    publish_snapshot(petition, utcnow())
    queued = db.session.scalars(
        select(OutboxMessage.id).where(OutboxMessage.kind == EmailKind.PUBLICATION_RECEIPT)
    ).all()
    assert len(queued) == 1000 and sorted(later) == sorted(queued)
    # The same signers in the next publications, some with a new entry: nothing more.
    publish_snapshot(petition, utcnow() + timedelta(days=1))
    db.session.execute(
        Signature.__table__.update()
        .where(Signature.petition_id == petition.id)
        # As every service that changes the public list does, for incremental publications.
        .values(
            show_title=True, title="Nouveau titre", status_changed_at=utcnow() + timedelta(days=2)
        )
    )
    db.session.commit()
    third = publish_snapshot(petition, utcnow() + timedelta(days=2))
    assert third.added_count == 1200 and len(later) == 1000
