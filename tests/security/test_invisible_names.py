"""Names that render blank or break lines are refused: invisible letters (the Hangul
filler), line and paragraph separators, long runs of combining marks; and the petition
summary refuses bidirectional overrides as titles and names do, while keeping its lines."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaign.accounts.models import Role
from campaign.extensions import db
from campaign.petitions.models import Petition
from campaign.signatures.models import Signature
from tests.factories import make_petition, make_user
from tests.support import csrf_token, login, sign

BLANK_OR_BROKEN = [
    "\u3164",  # Hangul filler: a letter that shows nothing
    "\u3164\u3164",
    "\uffa0",  # its halfwidth form
    "\u115f\u1160",  # Hangul choseong and jungseong fillers
    "\u2800",  # Braille blank
    "Alice\u2028Martin",  # line separator
    "Alice\u2029Martin",  # paragraph separator
    "A" + "\u0301\u0302\u0303\u0304\u0305\u0306" * 3,  # combining marks piled up
    "Ali\ue000ce",  # private use
]


@pytest.mark.parametrize("value", BLANK_OR_BROKEN)
@pytest.mark.parametrize("field", ["first_name", "last_name", "title", "organisation"])
def test_names_that_render_blank_or_break_lines_are_refused(client, field, value):
    petition = make_petition()
    response = sign(client, petition, **{field: value})
    assert response.status_code == 422
    assert db.session.scalar(select(func.count(Signature.id))) == 0


@pytest.mark.parametrize("value", ["Zoë Ñúñez", "Nguyễn Thị", "Łukasz Żółć", "이 서연", "O'Brien"])
def test_real_names_with_accents_and_other_scripts_are_accepted(client, value):
    petition = make_petition()
    assert sign(client, petition, first_name=value).status_code == 303


def new_petition_data(**overrides) -> dict:
    data = {
        "slug": "sante-souveraine",
        "language": "fr",
        "title_fr": "Nos données de santé",
        "summary_fr": "Un résumé.",
        "body_fr": "Le texte.",
        "title_en": "",
        "summary_en": "",
        "body_en": "",
        "goal": "500",
        "categories": ["citizen"],
        "opens_at": "",
        "closes_at": "",
        "save": "Save",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "summary", ["Un résumé\u202e à l'envers", "Invisible\u200b", "Ligne\u2028coupée", "\u3164"]
)
def test_petition_summary_refuses_bidi_overrides_and_invisible_characters(client, summary):
    login(client, make_user(role=Role.ORGANISER))
    path = "/admin/petitions/new"
    data = new_petition_data(summary_fr=summary, csrf_token=csrf_token(client, path))
    response = client.post(path, data=data)
    assert response.status_code == 422
    assert db.session.scalar(select(func.count(Petition.id))) == 0


def test_petition_summary_keeps_its_line_breaks(client):
    login(client, make_user(role=Role.ORGANISER))
    path = "/admin/petitions/new"
    data = new_petition_data(summary_fr="Premier point.\r\nSecond point.")
    response = client.post(path, data={**data, "csrf_token": csrf_token(client, path)})
    assert response.status_code == 303
