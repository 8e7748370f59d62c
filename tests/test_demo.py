from sqlalchemy import func, select

from campaign.clock import utcnow
from campaign.demo import DEMO_SLUG, load_demo
from campaign.extensions import db
from campaign.petitions.models import Petition
from campaign.signatures.models import Signature
from campaign.signatures.services import counts_by_category, published_signatories


def test_demo_loads_a_bilingual_petition_with_signatories_once(app):
    assert load_demo(utcnow(), signatories=200) == 200
    assert load_demo(utcnow(), signatories=200) == 0
    petition = db.session.scalar(select(Petition).where(Petition.slug == DEMO_SLUG))
    assert {text.language for text in petition.texts} == {"fr", "en"}
    assert db.session.scalar(select(func.count(Signature.id))) == 200
    counts = dict((c.key, n) for c, n in counts_by_category(petition))
    assert sum(counts.values()) == 200 and all(counts[key] > 0 for key in counts)
    published = published_signatories(petition.id, per_page=500).total
    assert 100 < published < 200, "some demo signatories chose not to be published"


def test_demo_page_renders(app, client):
    load_demo(utcnow(), signatories=20)
    page = client.get(f"/p/{DEMO_SLUG}").get_data(as_text=True)
    assert "Nos données de santé" in page
