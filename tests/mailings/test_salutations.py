"""How a letter addresses an official: the salutation and the role in the official's
gender, from the civility the directory gives; "Madame, Monsieur" when it does not."""

from __future__ import annotations

import pytest

from campaign.mailings.merge_fields import official_context
from campaign.mailings.models import MailingKind
from campaign.mailings.services import MailingFields, create_mailing, render_for_official
from campaign.officials.models import Civility, OfficialRole
from tests.factories import make_official, make_petition, make_user

CASES = [
    # civility, role, locale -> salutation, role, civility word
    (Civility.MADAME, OfficialRole.DEPUTE, "fr", "Madame la députée", "Députée", "Madame"),
    (Civility.MONSIEUR, OfficialRole.DEPUTE, "fr", "Monsieur le député", "Député", "Monsieur"),
    (Civility.MADAME, OfficialRole.SENATEUR, "fr", "Madame la sénatrice", "Sénatrice", "Madame"),
    (Civility.MONSIEUR, OfficialRole.SENATEUR, "fr", "Monsieur le sénateur", "Sénateur",
     "Monsieur"),
    (Civility.MADAME, OfficialRole.DEPUTE_EUROPEEN, "fr", "Madame la députée",
     "Députée européenne", "Madame"),
    (Civility.MADAME, OfficialRole.MINISTRE, "fr", "Madame la ministre", "Ministre", "Madame"),
    # An authority: through its head when the directory names one, else as an institution.
    (Civility.MADAME, OfficialRole.AUTORITE, "fr", "Madame la Présidente",
     "Autorité de régulation", "Madame"),
    (Civility.MONSIEUR, OfficialRole.AUTORITE, "fr", "Monsieur le Président",
     "Autorité de régulation", "Monsieur"),
    (None, OfficialRole.AUTORITE, "fr", "Madame, Monsieur", "Autorité de régulation", ""),
    (None, OfficialRole.AUTORITE, "en", "Dear Sir or Madam", "Regulator", ""),
    (None, OfficialRole.DEPUTE, "fr", "Madame, Monsieur", "Député", ""),
    (Civility.MADAME, OfficialRole.DEPUTE, "en", "Dear Ms Dumont",
     "Member of the National Assembly", "Ms"),
    (Civility.MONSIEUR, OfficialRole.SENATEUR, "en", "Dear Mr Dumont", "Senator", "Mr"),
    (None, OfficialRole.DEPUTE, "en", "Dear Claire Dumont", "Member of the National Assembly", ""),
]  # fmt: skip


@pytest.mark.parametrize(("civility", "role", "locale", "salutation", "label", "word"), CASES)
def test_the_merge_fields_address_the_official_in_their_gender(
    app, civility, role, locale, salutation, label, word
):
    official = make_official(first_name="Claire", last_name="Dumont", civility=civility, role=role)
    fields = official_context(official, locale)
    assert (fields["salutation"], fields["role"], fields["civility"]) == (salutation, label, word)


def test_a_letter_opens_with_the_salutation(app):
    petition = make_petition(language="fr")
    organiser = make_user("organiser")
    fields = MailingFields(
        name="Lettre",
        subject_template="« {{ petition.title }} »",
        body_template="{{ official.salutation }},\n\nEn votre qualité de {{ official.role }}…",
        roles=["senateur"],
    )
    mailing = create_mailing(petition, MailingKind.LETTER, fields, organiser, petition.created_at)
    senatrice = make_official(civility=Civility.MADAME, role=OfficialRole.SENATEUR)
    letter = render_for_official(mailing, senatrice)
    assert letter.text.startswith("Madame la sénatrice,\n\nEn votre qualité de Sénatrice…")
