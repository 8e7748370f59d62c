"""A French letter through a real SMTP server: accents, typographic apostrophes and
« guillemets » in the subject, the body and the sender's name, to a sénateur, a députée and
an authority; each must arrive as its reader would read it (issue 17)."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mailings.models import MailingKind
from campaign.mailings.services import MailingFields, create_mailing, start_mailing
from campaign.officials.models import Civility, OfficialRole
from campaign.petitions.services import ensure_default_categories
from tests.conftest import Mailbox, free_port
from tests.factories import make_official, make_petition, make_signature, make_user

SUBJECT = "Données de santé : l’appel « {{ petition.title }} »"
BODY = (
    "{{ official.salutation }},\n\n"
    "Nous vous adressons l’appel « {{ petition.title }} », qu’ont signé "
    "{{ petition.confirmed }} personnes — soignants, chercheurs, patients.\n\n"
    "Veuillez agréer l’expression de notre haute considération.\n"
)


class RawMailbox(Mailbox):
    """Keeps the bytes as they crossed the wire, besides the parsed message."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: dict[str, bytes] = {}

    async def handle_DATA(self, server, session, envelope):
        self.raw[envelope.rcpt_tos[0]] = envelope.content
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def wire(make_app):
    box = RawMailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    app = make_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=controller.port,
        MAIL_SUPPRESS_SEND=False,
        MAIL_DEFAULT_SENDER="Tribune <tribune@tribune.example>",
    )
    with app.app_context():
        ensure_default_categories()
        db.session.commit()
        yield box
        db.session.remove()
    controller.stop()


def test_a_french_letter_arrives_as_each_recipient_would_read_it(wire):
    petition = make_petition(title="L’hôpital « public »", language="fr")
    make_signature(petition)
    senateur = make_official(
        civility=Civility.MONSIEUR, role=OfficialRole.SENATEUR, chamber="Sénat",
        last_name="Lefèvre", email="j.lefevre@senat.example",
    )  # fmt: skip
    deputee = make_official(
        civility=Civility.MADAME, role=OfficialRole.DEPUTE, last_name="Benoît",
        email="c.benoit@assemblee.example",
    )  # fmt: skip
    cnil = make_official(
        civility=None, role=OfficialRole.AUTORITE, chamber="CNIL", first_name="",
        last_name="CNIL", email="courrier@cnil.example",
    )  # fmt: skip
    organiser = make_user("organiser", email="orga@collectif.example")
    mailing = create_mailing(
        petition,
        MailingKind.LETTER,
        MailingFields(
            name="Lettre",
            subject_template=SUBJECT,
            body_template=BODY,
            official_ids=[senateur.id, deputee.id, cnil.id],
            sender_name="Collectif « Santé » d’Île-de-France",
        ),
        organiser,
        utcnow(),
    )
    assert start_mailing(mailing.id, organiser, utcnow())
    wire.wait_for(3)

    expected_subject = "Données de santé : l’appel « L’hôpital « public » »"
    salutations = {
        senateur.email: "Monsieur le sénateur,",
        deputee.email: "Madame la députée,",
        cnil.email: "Madame, Monsieur,",
    }
    for address, salutation in salutations.items():
        raw = wire.raw[address]
        head = raw.split(b"\r\n\r\n", 1)[0]
        # Headers cross the wire in ASCII: the subject and the name as RFC 2047 words.
        assert head.isascii()
        assert b"Subject: =?utf-8?" in head
        message = message_from_bytes(raw, policy=policy.default)
        assert message["Subject"] == expected_subject
        assert message["From"].addresses[0].display_name == (
            "Collectif « Santé » d’Île-de-France via Tribune"
        )
        assert message["From"].addresses[0].addr_spec == "tribune@tribune.example"
        text = message.get_body(("plain",)).get_content()
        assert text.startswith(salutation + "\n\n")
        assert "l’appel « L’hôpital « public » », qu’ont signé 1 personnes — soignants" in text
        assert "Veuillez agréer l’expression de notre haute considération." in text
        html = message.get_body(("html",)).get_content()
        assert salutation in html and "l’appel « L’hôpital « public » »" in html
