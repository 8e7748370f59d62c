from sqlalchemy import func, select

from campaign.clock import utcnow
from campaign.demo import DEMO_SLUG, DEMO_VERIFIED, load_demo
from campaign.extensions import db
from campaign.petitions.models import Petition
from campaign.signatures.models import Signature
from campaign.signatures.services import counts_by_category, published_signatories


def test_demo_loads_a_bilingual_petition_with_signatories_once(app):
    assert load_demo(utcnow(), signatories=200) == 200
    assert load_demo(utcnow(), signatories=200) == 0
    petition = db.session.scalar(select(Petition).where(Petition.slug == DEMO_SLUG))
    assert {text.language for text in petition.texts} == {"fr", "en"}
    # The Faker signatories, and a few verified by each method (tests/verification).
    total = 200 + len(DEMO_VERIFIED)
    assert db.session.scalar(select(func.count(Signature.id))) == total
    counts = dict((c.key, n) for c, n in counts_by_category(petition))
    assert sum(counts.values()) == total and all(counts[key] > 0 for key in counts)
    published = published_signatories(petition.id, per_page=500).total
    assert 100 < published < total, "some demo signatories chose not to be published"


def test_demo_page_renders(app, client):
    load_demo(utcnow(), signatories=20)
    page = client.get(f"/p/{DEMO_SLUG}").get_data(as_text=True)
    assert "Nos données de santé" in page


def test_demo_letter_reaches_each_demo_depute_once_in_the_outbox(app):
    import time
    from pathlib import Path

    from campaign.accounts.models import User
    from campaign.mailings.models import Mailing, MailingKind, MailingStatus
    from campaign.mailings.services import start_mailing
    from campaign.officials.models import Official

    load_demo(utcnow(), signatories=20)
    letter = db.session.scalar(select(Mailing).where(Mailing.kind == MailingKind.LETTER))
    open_letters = db.session.scalar(
        select(Mailing).where(Mailing.kind == MailingKind.REPRESENTATIVES)
    )
    assert open_letters.status == MailingStatus.SENDING, "supporters can write from the start"
    organiser = db.session.scalar(select(User).where(User.email == "organisatrice@example.org"))

    assert start_mailing(letter.id, organiser, utcnow())

    # Paced at 60 a minute: after the first letter, the rest leave from timer threads.
    deadline = time.monotonic() + 30
    while db.session.get(Mailing, letter.id).status != MailingStatus.DONE:
        assert time.monotonic() < deadline, "the demo letter did not finish"
        time.sleep(0.2)
        db.session.expire_all()
    deputes = db.session.scalars(select(Official.email).where(Official.role == "depute")).all()
    outbox = [path.read_text() for path in Path(app.config["OUTBOX_DIR"]).glob("*.eml")]
    assert len(deputes) >= 5
    for address in deputes:
        assert sum(f"To: {address}" in message for message in outbox) == 1
