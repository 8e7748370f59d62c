"""One mailbox, one signature, whatever its spelling: "+tag" sub-addressing is folded for
every provider that documents it (from a table), an internationalised domain and its
punycode spelling give one digest, and a disposable provider's subdomains are refused like
the provider. Digests stored under the earlier canonical form are recomputed by migration
e348f59e9968 from the encrypted addresses."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from sqlalchemy import func, select, text

from campaign.abuse import domain_is_blocked
from campaign.extensions import db
from campaign.personal_data import (
    MAILBOX_RULES,
    canonical_email,
    email_digest,
    email_domain_digest,
    encrypt_email,
)
from campaign.signatures.models import Signature
from tests.factories import make_petition
from tests.support import sign


@pytest.mark.parametrize(
    "spellings",
    [
        ["alice+news@outlook.fr", "alice@outlook.fr", "Alice+x@Outlook.FR"],
        ["bob+petitions@hotmail.com", "bob@hotmail.com"],
        ["carol+a@icloud.com", "carol@icloud.com"],
        ["dan+x@proton.me", "dan@proton.me"],
        ["erin+tag@fastmail.com", "erin@fastmail.com"],
        ["a.lice+x@gmail.com", "alice@googlemail.com"],
    ],
)
def test_sub_addresses_of_providers_that_document_them_are_one_mailbox(app, spellings):
    assert len({email_digest(spelling) for spelling in spellings}) == 1


def test_the_table_names_each_provider_once_and_other_domains_keep_their_tags(app):
    assert all(rule.tag_separator == "+" for rule in MAILBOX_RULES.values())
    assert canonical_email("alice+x@example.fr") == "alice+x@example.fr"
    assert canonical_email("a.lice@outlook.fr") != canonical_email("alice@outlook.fr")


def test_an_internationalised_domain_and_its_punycode_are_one_domain(app):
    assert email_digest("alice@exämple.fr") == email_digest("alice@xn--exmple-cua.fr")
    assert email_domain_digest("a@exämple.fr") == email_domain_digest("b@XN--EXMPLE-CUA.fr")


def test_signing_with_a_sub_address_or_the_punycode_domain_makes_no_second_signature(client):
    petition = make_petition()
    for address in ["alice@outlook.fr", "alice+again@outlook.fr", "bob@exämple.fr",
                    "bob@xn--exmple-cua.fr"]:  # fmt: skip
        assert sign(client, petition, email=address).status_code == 303
    assert db.session.scalar(select(func.count(Signature.id))) == 2


@pytest.mark.parametrize(
    "address", ["x@mailinator.com", "x@anything.mailinator.com", "x@a.b.mailinator.com"]
)
def test_disposable_providers_and_their_subdomains_are_refused(app, address):
    assert domain_is_blocked(address)


def test_a_domain_that_merely_ends_like_a_disposable_one_is_not_refused(app):
    assert not domain_is_blocked("x@mailinator.example.fr")
    assert not domain_is_blocked("x@example-mailinator.org")
    assert not domain_is_blocked("x@example.fr")


def test_signing_from_a_disposable_subdomain_is_refused_and_stores_nothing(client):
    petition = make_petition()
    response = sign(client, petition, email="x@sub.mailinator.com")
    assert response.status_code == 422
    assert db.session.scalar(select(func.count(Signature.id))) == 0


def old_digest(app, address: str) -> str:
    """The digest as stored before: lower-cased, Gmail alone folded (not used here)."""
    key = app.config["EMAIL_DIGEST_KEY"].encode()
    return hmac.new(key, address.strip().lower().encode(), hashlib.sha256).hexdigest()


def test_the_migration_recomputes_stored_digests_from_the_encrypted_addresses(
    base_config, tmp_path
):
    from flask_migrate import upgrade

    from campaign import create_app
    from tests.test_migrations import _insert_row

    url = f"sqlite:///{tmp_path / 'upgraded.db'}"
    app = create_app({**base_config, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(revision="d915a9176542")
        rows = {
            1: "alice+news@outlook.fr",  # the same mailbox as 2, same petition: kept as it was
            2: "alice@outlook.fr",  # already the canonical form's digest
            3: "bob@exämple.fr",  # IDN: now the punycode form's digest
            4: "carol@example.fr",  # unchanged
            6: "dave+x@outlook.fr",  # folded now
        }
        with db.engine.begin() as connection:
            _insert_row(connection, "categories", key="citizen")
            _insert_row(connection, "petitions", id=1, slug="p")
            for number, address in rows.items():
                _insert_row(
                    connection,
                    "signatures",
                    id=number,
                    petition_id=1,
                    category_key="citizen",
                    email_digest=old_digest(app, address),
                    email_domain_digest="old",
                    email_ciphertext=encrypt_email(address),
                )
            _insert_row(connection, "signatures", id=5, petition_id=1, category_key="citizen",
                        email_digest=None, email_ciphertext=None)  # fmt: skip
        upgrade()
        with db.engine.connect() as connection:
            stored = dict(connection.execute(text("SELECT id, email_digest FROM signatures")).all())
            domains = dict(
                connection.execute(text("SELECT id, email_domain_digest FROM signatures")).all()
            )
        assert stored[1] == old_digest(app, "alice+news@outlook.fr")
        assert stored[2] == email_digest("alice@outlook.fr")
        assert stored[6] == email_digest("dave@outlook.fr") != old_digest(app, "dave+x@outlook.fr")
        assert stored[3] == email_digest("bob@xn--exmple-cua.fr")
        assert stored[4] == email_digest("carol@example.fr") == old_digest(app, "carol@example.fr")
        assert stored[5] is None
        assert domains[6] == email_domain_digest("dave@outlook.fr")
        db.engine.dispose()
