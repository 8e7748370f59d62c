"""Fixtures of the supporters' letters and updates: a petition with its organiser, the
representatives of Paris, and a confirmed supporter from Paris."""

from __future__ import annotations

import pytest

from campaign.clock import utcnow
from campaign.mailings.models import Mailing, MailingKind
from campaign.mailings.services import MailingFields, create_mailing, start_mailing
from campaign.officials.models import Civility, OfficialRole
from tests.factories import make_official, make_petition, make_signature, make_user

SUBJECT_TEMPLATE = "Au sujet de « {{ petition.title }} »"
BODY_TEMPLATE = "{{ official.name }},\n\nJe vous écris au sujet de {{ petition.title }}.\n"


@pytest.fixture
def organiser(site):
    return make_user("organiser", email="organiser@tribune.example")


@pytest.fixture
def petition(organiser):
    return make_petition(owner_id=organiser.id, title="Hôpital public")


@pytest.fixture
def depute():
    return make_official(
        civility=Civility.MADAME,
        first_name="Claire",
        last_name="Dupont",
        email="claire.dupont@assemblee.example",
    )


@pytest.fixture
def senateur():
    return make_official(
        first_name="Bernard",
        last_name="Arnaud",
        role=OfficialRole.SENATEUR,
        chamber="Sénat",
        email="bernard.arnaud@senat.example",
    )


@pytest.fixture
def supporter(petition):
    return make_signature(
        petition, first_name="Alice", last_name="Martin", email="alice@example.fr", departement="75"
    )


@pytest.fixture
def open_letters(petition, organiser):
    """Start a supporters' mailing of the petition with these settings; returns it."""

    def start(**settings) -> Mailing:
        fields = MailingFields(
            name="Écrivez à vos élus",
            subject_template=SUBJECT_TEMPLATE,
            body_template=BODY_TEMPLATE,
            **settings,
        )
        mailing = create_mailing(petition, MailingKind.REPRESENTATIVES, fields, organiser, utcnow())
        assert start_mailing(mailing.id, organiser, utcnow())
        return mailing

    return start
