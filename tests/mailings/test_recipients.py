"""Choosing a letter's recipients (issue 17.6): the search of départements, whole régions,
roles and chambers among people, authorities as their own kind, addresses that bounce, and a
count that is the number of letters a sending delivers."""

from __future__ import annotations

import pytest

from campaign.clock import utcnow
from campaign.departements import REGIONS
from campaign.extensions import db
from campaign.mailings.merge_fields import official_context
from campaign.mailings.models import MailingKind
from campaign.mailings.recipients import (
    active_authorities,
    count_recipients,
    departements_after_regions,
    departements_matching,
    people_chambers,
    search_key,
    selected_officials,
)
from campaign.mailings.services import (
    MailingFields,
    create_mailing,
    recipient_set,
    start_mailing,
)
from campaign.officials.models import Civility, OfficialKind, OfficialRole
from tests.factories import make_official, make_petition, make_user

# --- Search ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("ile", list(REGIONS["Île-de-France"])),
        ("Île-de-France", list(REGIONS["Île-de-France"])),
        ("ardeche", ["07"]),
        ("ARDÈCHE", ["07"]),
        ("07", ["07"]),
        ("2a", ["2A"]),
        ("971", ["971"]),
        ("cote d", ["21", "22", *list(REGIONS["Provence-Alpes-Côte d’Azur"])]),
        ("haute sa", ["70", "74"]),
        ("seine saint", ["93"]),
        ("bretagne finis", ["29"]),
        ("val d'oise", ["95"]),
        ("nowhere", []),
    ],
)
def test_the_search_finds_departements_by_number_name_or_region_without_accents(typed, found):
    assert sorted(departements_matching(typed)) == sorted(found)


def test_an_empty_search_finds_every_departement_in_order():
    everything = departements_matching("  ")
    assert everything[:3] == ["01", "02", "03"] and len(everything) == 102


def test_the_search_key_drops_accents_case_and_punctuation():
    assert search_key("Côte-d’Or") == "cote d or"
    assert search_key("  ÎLE   de France ") == "ile de france"


# --- Régions -------------------------------------------------------------------------------


def test_a_region_ticked_whole_adds_its_departements_and_unticked_clears_them():
    bretagne = list(REGIONS["Bretagne"])
    assert departements_after_regions(["75"], ["Bretagne"]) == [*bretagne, "75"]
    # Shown whole, then unticked: the région is cleared, the rest stays.
    assert departements_after_regions([*bretagne, "75"], [], ["Bretagne"]) == ["75"]
    # Shown whole and still ticked: nothing changes.
    assert departements_after_regions(bretagne, ["Bretagne"], ["Bretagne"]) == bretagne


# --- The selection -------------------------------------------------------------------------


@pytest.fixture
def directory(app):
    """People of Paris and Brittany, a minister, and authorities, one of them in Paris."""
    return {
        "depute_75": make_official(last_name="Dumont", departement="75"),
        "depute_29": make_official(last_name="Kerhervé", departement="29"),
        "senatrice_75": make_official(
            last_name="Marchand", role=OfficialRole.SENATEUR, chamber="Sénat",
            civility=Civility.MADAME,
        ),
        "senateur_35": make_official(
            last_name="Le Goff", role=OfficialRole.SENATEUR, chamber="Sénat", departement="35"
        ),
        "ministre": make_official(
            last_name="Lemaire", role=OfficialRole.MINISTRE, chamber="Gouvernement",
            departement=None,
        ),
        "cpam_75": make_official(
            first_name="", last_name="", role=OfficialRole.AUTORITE,
            chamber="CPAM de Paris", departement="75", email="accueil@cpam-paris.example",
        ),
        "cnil": make_official(
            first_name="Mathilde", last_name="Roussel", civility=Civility.MADAME,
            role=OfficialRole.AUTORITE, chamber="CNIL", departement=None,
            email="presidence@cnil.example",
        ),
    }  # fmt: skip


def names(officials) -> set[str]:
    return {official.last_name or official.chamber for official in officials}


def test_criteria_combine_with_and_among_people_only(directory):
    paris = {"departements": ["75"]}
    # The CPAM of Paris is an authority: a département does not select it.
    assert names(selected_officials(paris)) == {"Dumont", "Marchand"}
    assert names(selected_officials({"roles": ["senateur"], "departements": ["75", "35"]})) == {
        "Marchand",
        "Le Goff",
    }
    assert names(selected_officials({"chambers": ["Gouvernement"]})) == {"Lemaire"}
    assert selected_officials({}) == []


def test_authorities_are_ticked_in_their_own_group(directory):
    cpam, cnil = directory["cpam_75"], directory["cnil"]
    selection = {"roles": ["depute"], "authority_ids": [cpam.id, cnil.id]}
    assert names(selected_officials(selection)) == {
        "Dumont",
        "Kerhervé",
        "CPAM de Paris",
        "Roussel",
    }
    # The authorities' group lists them; the chambers of people do not.
    assert [authority.chamber for authority in active_authorities()] == ["CNIL", "CPAM de Paris"]
    assert people_chambers() == ["Assemblée nationale", "Gouvernement", "Sénat"]
    # A person's id in the authorities' group selects nobody.
    assert selected_officials({"authority_ids": [directory["depute_75"].id]}) == []


def test_an_authority_is_addressed_as_an_institution(directory, app):
    cpam, cnil = directory["cpam_75"], directory["cnil"]
    assert (cpam.kind, cnil.kind) == (OfficialKind.AUTHORITY, OfficialKind.AUTHORITY)
    assert official_context(cpam, "fr")["salutation"] == "Madame, Monsieur"
    assert official_context(cpam, "en")["salutation"] == "Dear Sir or Madam"
    assert official_context(cpam, "fr")["name"] == "CPAM de Paris"
    assert official_context(cnil, "fr")["salutation"] == "Madame la Présidente"
    assert official_context(cnil, "en")["salutation"] == "Dear Madam President"
    assert cnil.recipient_name == "CNIL (Mathilde Roussel)"
    # A civility without a named head is not enough to say "Madame la Présidente".
    cpam.civility = Civility.MADAME
    assert official_context(cpam, "fr")["salutation"] == "Madame, Monsieur"


def test_the_count_skips_bouncing_addresses_and_names_them(directory):
    directory["senatrice_75"].bouncing_since = utcnow()
    directory["cpam_75"].bouncing_since = utcnow()
    db.session.commit()
    selection = {"departements": ["75"], "authority_ids": [directory["cpam_75"].id]}
    count = count_recipients(selection)
    assert count.count == 1 == len(selected_officials(selection))
    assert {official.recipient_name for official in count.skipped} == {
        "CPAM de Paris",
        directory["senatrice_75"].full_name,
    }
    answer = count.as_json()
    assert answer["count"] == 1
    assert {entry["email"] for entry in answer["skipped"]} == {
        "accueil@cpam-paris.example",
        directory["senatrice_75"].email,
    }


def test_retired_officials_are_neither_counted_nor_offered(directory):
    directory["cnil"].active = False
    directory["depute_29"].active = False
    db.session.commit()
    assert (
        count_recipients({"roles": ["depute"], "authority_ids": [directory["cnil"].id]}).count == 1
    )
    assert [authority.chamber for authority in active_authorities()] == ["CPAM de Paris"]


def test_the_confirmation_names_an_authority_by_its_name(directory):
    petition = make_petition()
    organiser = make_user("organiser")
    mailing = create_mailing(
        petition,
        MailingKind.LETTER,
        MailingFields(
            name="Lettre",
            subject_template="Objet",
            body_template="{{ official.salutation }},",
            authority_ids=[directory["cpam_75"].id],
        ),
        organiser,
        utcnow(),
    )
    assert recipient_set(mailing).first_names == ["CPAM de Paris"]


# --- The count is what a sending delivers -----------------------------------------------------


def test_the_count_is_the_number_of_letters_a_sending_delivers(make_app, smtp_config, mailbox):
    from campaign.petitions.services import ensure_default_categories

    app = make_app(**smtp_config, MAIL_DEFAULT_SENDER="Tribune <tribune@tribune.example>")
    with app.app_context():
        ensure_default_categories()
        for number in range(4):
            make_official(last_name=f"Député{number}", departement="35")
        make_official(last_name="Ailleurs", departement="13")
        make_official(last_name="Sénatrice", role=OfficialRole.SENATEUR, departement="29",
                      chamber="Sénat")  # fmt: skip
        bounces = make_official(last_name="Rebond", departement="22", bouncing_since=utcnow())
        bouncing_address = bounces.email
        make_official(last_name="Retraité", departement="56", active=False)
        authority = make_official(
            first_name="", last_name="", role=OfficialRole.AUTORITE, chamber="CPAM de Rennes",
            departement="35", email="accueil@cpam-rennes.example",
        )  # fmt: skip
        make_official(first_name="", last_name="", role=OfficialRole.AUTORITE,
                      chamber="CPAM de Quimper", departement="29")  # fmt: skip
        selection = {
            "departements": departements_after_regions([], ["Bretagne"]),
            "authority_ids": [authority.id],
        }
        counted = count_recipients(selection)
        assert counted.count == 6
        assert [official.email for official in counted.skipped] == [bouncing_address]

        organiser = make_user("organiser", email="orga@collectif.example")
        mailing = create_mailing(
            make_petition(owner_id=organiser.id),
            MailingKind.LETTER,
            MailingFields(
                name="Bretagne",
                subject_template="Pour {{ official.name }}",
                body_template="{{ official.salutation }},\n\nBonjour.",
                **selection,
            ),
            organiser,
            utcnow(),
        )
        assert start_mailing(mailing.id, organiser, utcnow())
        received = mailbox.wait_for(counted.count)
        db.session.remove()
    assert len(received) == counted.count
    assert mailbox.to(bouncing_address) == []
    [cpam_letter] = mailbox.to("accueil@cpam-rennes.example")
    assert "Madame, Monsieur," in cpam_letter.get_body(("plain",)).get_content()
