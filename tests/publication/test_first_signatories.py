"""First signatories in the press files: a tribune's list imported from CSV comes back in the
txt download verbatim, in the newspaper's order; their rank is signed by the publication and
earlier publications still verify; their level is "attested by the organisers"."""

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.levels import VerificationLevel
from campaign.publication.services import publication_due, publish_snapshot
from campaign.publication.verification import publication_problems
from campaign.signatures.models import Signature
from campaign.signatures.moderation import mark_first_signatory, unmark_first_signatory
from campaign.signatures.services import withdraw_signature
from campaign.verification.services import reassess_signature
from tests.factories import make_petition, make_signature, make_user
from tests.publication.lists import txt_list
from tests.support import visible_text

HEADER = "last_name,first_name,title,organisation,category,email,departement,show_name"

# The initiators, as the organisers typed them: accents, particles, dashes, commas inside
# quoted titles, and a co-signing collective named after its domain (no first name).
INITIATORS = """\
Lévy-Strauss,Anne-Sophie,"Professeure de médecine, université de Lyon",,researcher,,,1
soignants-en-colere.org,,"Collectif de soignants, pour l’hôpital public",,organisation,,,1
de La Tour,Éric,"Député, Isère",Assemblée nationale,mp,,38,1
Œuvray,Zoé,Infirmière,"CHU de Nantes, service des urgences",clinician,,44,1
Le Bouter,Jean,Chercheur,CNRS,researcher,,,1
Leblond,Marc,,,citizen,,,1
"""
# Those who signed later, from another list that says who is an organisation.
SUPPORTERS = """\
Martin,Alice,Médecin généraliste,,clinician,alice@example.fr,75,1,person
Dupont,Émile,,,citizen,,,1,
Association Les Amis du Rhône,,Association loi 1901,,citizen,,69,1,organisation
Anonyme,Caché,,,citizen,,,0,person
"""

EXPECTED_TXT = """\
Premiers signataires

de La Tour Éric, Député, Isère, Assemblée nationale
Le Bouter Jean, Chercheur, CNRS
Leblond Marc
Lévy-Strauss Anne-Sophie, Professeure de médecine, université de Lyon
Œuvray Zoé, Infirmière, CHU de Nantes, service des urgences
soignants-en-colere.org, Collectif de soignants, pour l’hôpital public

Autres signataires

Association Les Amis du Rhône, Association loi 1901
Dupont Émile
Martin Alice, Médecin généraliste
"""


@pytest.fixture
def cli(app, tmp_path):
    runner = app.test_cli_runner()

    def invoke(content: str, *args: str, name: str = "liste.csv", header: str = HEADER):
        path = tmp_path / name
        path.write_bytes((header + "\n" + content).encode())
        result = runner.invoke(args=["signatures", "import", str(path), *args])
        assert result.exit_code == 0, result.output
        return result

    return invoke


def signature_named(last_name: str) -> Signature:
    db.session.expire_all()
    return db.session.scalar(select(Signature).where(Signature.last_name == last_name))


def test_a_tribune_imported_from_csv_comes_back_in_the_txt_verbatim_in_the_newspapers_order(
    app, client, cli
):
    organiser = make_user("organiser", email="orga@example.org")
    petition = make_petition(slug="tribune", owner_id=organiser.id)
    result = cli(INITIATORS, "--petition", "tribune", "--confirmed", "--first-signatories",
                 "--as", "orga@example.org", name="initiateurs.csv")  # fmt: skip
    assert "first signatories" in result.output
    cli(SUPPORTERS, "--petition", "tribune", "--confirmed", name="soutiens.csv",
        header=HEADER + ",kind")  # fmt: skip
    publish_snapshot(petition, utcnow())

    response = client.get("/p/tribune/signatories.txt")
    assert response.status_code == 200
    # Its first line says the moment it reflects; the list after it, byte for byte.
    assert response.get_data(as_text=True).startswith("Liste arrêtée le ")
    assert txt_list(response.get_data(as_text=True)) == EXPECTED_TXT

    by_category = client.get("/p/tribune/signatories.txt?group=category").get_data(as_text=True)
    assert txt_list(by_category).startswith(
        "Premiers signataires\n\nde La Tour Éric, Député, Isère,"
    )
    assert by_category.endswith(
        "Soignantes et soignants\n\nMartin Alice, Médecin généraliste\n\n"
        "Citoyennes et citoyens\n\nAssociation Les Amis du Rhône, Association loi 1901\n"
        "Dupont Émile\n"
    )
    assert "Leblond" not in by_category.split("Citoyennes et citoyens")[1]

    rows = list(csv.DictReader(io.StringIO(client.get("/p/tribune/signatories.csv").text[1:])))
    assert [(row["last_name"], row["first_signatory"], row["verification"]) for row in rows] == [
        ("de La Tour", "1", "attested"),
        ("Le Bouter", "2", "attested"),
        ("Leblond", "3", "attested"),
        ("Lévy-Strauss", "4", "attested"),
        ("Œuvray", "5", "attested"),
        ("soignants-en-colere.org", "6", "attested"),
        ("Association Les Amis du Rhône", "", "none"),
        ("Dupont", "", "none"),
        ("Martin", "", "none"),
    ]

    # Who attested, and when: on each signature and in the audit log.
    initiator = signature_named("Le Bouter")
    assert initiator.first_signatory and initiator.attested_by_id == organiser.id
    assert initiator.attested_at is not None
    assert initiator.verification_level == VerificationLevel.ATTESTED
    [entry] = db.session.scalars(
        select(AuditEntry).where(AuditEntry.detail.contains("first signatories, attested"))
    ).all()
    assert (entry.actor, entry.count) == ("orga@example.org", 6)
    collective = signature_named("soignants-en-colere.org")
    assert (collective.kind, collective.first_name) == ("organisation", "")
    assert signature_named("Association Les Amis du Rhône").kind == "organisation"
    assert signature_named("Martin").kind == "person"


def test_the_organisers_order_is_signed_and_earlier_publications_still_verify(app, client):
    organiser = make_user("organiser")
    petition = make_petition(slug="ordre")
    zola = make_signature(petition, last_name="Zola", first_name="Émile")
    make_signature(petition, last_name="Hugo", first_name="Victor")
    sand = make_signature(petition, last_name="Sand", first_name="George")
    publish_snapshot(petition, utcnow())
    before = client.get("/p/ordre/signatories.json").get_json()

    mark_first_signatory(petition, zola.id, organiser, utcnow(), position=1)
    mark_first_signatory(petition, sand.id, organiser, utcnow())
    publish_snapshot(petition, utcnow())
    document = json.loads(client.get("/p/ordre/signatories.json").get_data())
    assert publication_problems(document) == []
    named = [entry for entry in document["entries"] if "last_name" in entry]
    ranked = {e["last_name"]: e.get("first_signatory") for e in named}
    assert ranked == {"Zola": "1", "Sand": "2", "Hugo": None}
    assert txt_list(client.get("/p/ordre/signatories.txt").text) == (
        "Premiers signataires\n\nZola Émile\nSand George\n\nAutres signataires\n\nHugo Victor\n"
    )
    # The first publication, downloaded again, is unchanged and verifies.
    again = client.get("/p/ordre/publications/1/signatories.json").get_json()
    assert again == before and publication_problems(again) == []
    assert "first_signatory" not in json.dumps(before)
    # A list without first signatories prints no heading.
    assert txt_list(client.get("/p/ordre/publications/1/signatories.txt").text) == (
        "Hugo Victor\nSand George\nZola Émile\n"
    )


def test_the_attested_level_survives_a_reassessment_and_goes_with_the_mark(app):
    organiser = make_user("organiser")
    petition = make_petition()
    imported = make_signature(
        petition, verification_level=VerificationLevel.NONE, address_confirmed_at=None
    )
    mark_first_signatory(petition, imported.id, organiser, utcnow())
    assert signature_named(imported.last_name).verification_level == VerificationLevel.ATTESTED
    reassess_signature(imported.id, utcnow())
    db.session.commit()
    assert signature_named(imported.last_name).verification_level == VerificationLevel.ATTESTED
    assert unmark_first_signatory(petition, imported.id, organiser, utcnow())
    row = signature_named(imported.last_name)
    assert (row.verification_level, row.first_signatory, row.attested_by_id) == (
        VerificationLevel.NONE,
        False,
        None,
    )
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["first signatory attested", "first signatory withdrawn"]


def test_the_page_and_the_list_show_the_first_signatories_first_with_their_level(app, client):
    organiser = make_user("organiser")
    petition = make_petition(slug="page")
    make_signature(petition, last_name="Autre", first_name="Paul")
    first = make_signature(
        petition, last_name="Initiatrice", first_name="Jeanne", address_confirmed_at=None,
        verification_level=VerificationLevel.NONE, source="papier",
    )  # fmt: skip
    mark_first_signatory(petition, first.id, organiser, utcnow())
    for language, heading, level, others in (
        ("fr", "Premiers signataires", "attesté par les organisateurs", "Autres signataires"),
        ("en", "First signatories", "attested by the organisers", "Other signatories"),
    ):
        client.set_cookie("lang", language)
        page = visible_text(client.get("/p/page", headers={"Accept-Language": language}).text)
        assert f"{heading} Initiatrice Jeanne {level}" in page
        html = client.get("/p/page/signatories", headers={"Accept-Language": language}).text
        listing = visible_text(html)
        assert f"{heading} Initiatrice Jeanne {level}" in listing
        assert listing.index("Initiatrice") < listing.index(others) < listing.index("Autre Paul")
        # Imported without a confirmed address, yet not marked "address not confirmed".
        assert "badge-unconfirmed" not in html


def test_a_new_order_of_the_first_signatories_is_published_the_next_day(app):
    organiser = make_user("organiser")
    petition = make_petition()
    hugo = make_signature(petition, last_name="Hugo")
    sand = make_signature(petition, last_name="Sand")
    now = utcnow()
    mark_first_signatory(petition, hugo.id, organiser, now)
    mark_first_signatory(petition, sand.id, organiser, now)
    publish_snapshot(petition, now)
    assert not publication_due(petition, now + timedelta(days=1))
    # Only the order changes: no count, no level.
    mark_first_signatory(petition, sand.id, organiser, now, position=1)
    assert not publication_due(petition, now + timedelta(hours=1))
    assert publication_due(petition, now + timedelta(days=1))


def test_a_withdrawn_first_signatory_is_one_no_more(app):
    organiser = make_user("organiser")
    petition = make_petition()
    signature = make_signature(petition)
    mark_first_signatory(petition, signature.id, organiser, utcnow(), position=2)
    withdraw_signature(signature.id, utcnow())
    row = db.session.get(Signature, signature.id)
    assert (row.first_signatory, row.first_position, row.last_name) == (False, None, "")
