"""The officials directory: reading and checking a CSV file, the upsert by email and its
counts, idempotence, retiring officials, the list's filters, and the demo's file."""

from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.demo import DEMO_OFFICIALS, load_demo_officials
from campaign.extensions import db
from campaign.officials.models import Civility, Official, OfficialKind, OfficialRole
from campaign.officials.services import (
    import_officials,
    official_chambers,
    official_directory,
    preview_officials_import,
    read_officials,
)
from tests.factories import make_official, make_user

HEADER = "email,first_name,last_name,role,chamber,departement,constituency,party,recorded_on,source"
CLAIRE = (
    "claire.dumont@example.org,Claire,Dumont,députée,,75,3e circonscription,Parti A,2026-01-15,"
)
PAUL = "paul.girard@example.org,Paul,Girard,sénateur,Sénat,69,,Parti B,2026-01-10,"
INES = "ines.carvalho@example.org,Inès,Carvalho,députée européenne,,,France,,,"


def csv_bytes(*lines: str, header: str = HEADER, bom: bool = False) -> bytes:
    text = "\n".join([header, *lines]) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def errors_of(report_or_plan) -> list[tuple[int, str, str]]:
    with force_locale("en"):
        return [(error.line, error.field, str(error.reason)) for error in report_or_plan.errors]


def officials() -> list[Official]:
    db.session.expire_all()
    return list(db.session.scalars(select(Official).order_by(Official.email)))


def import_entries() -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == "officials imported")
    return list(db.session.scalars(query))


def run_import(content: bytes, **options):
    options.setdefault("source", "annuaire.csv")
    options.setdefault("now", utcnow())
    return import_officials(content, **options)


def counts(outcome) -> tuple[int, int, int, int]:
    plan = outcome.plan
    return len(plan.new), len(plan.changes), plan.unchanged, len(plan.retired)


# --- Reading and checking --------------------------------------------------------------------


def test_a_valid_file_becomes_normalised_records(app):
    content = csv_bytes(
        " Claire.Dumont@EXAMPLE.Org ,Claire,Dumont,Députée,,75,3e circonscription,Parti A,"
        "2026-01-15,",
        "paul.girard@example.org,Paul,Girard,SENATRICE,,1,,,31/01/2026,Relevé Sénat",
        "cnil@example.org,Mathilde,Roussel,autorité,CNIL,2a,,,,",
        "m@example.org,Bernard,Lemaire,ministre,,,,,,",
        "e@example.org,Inès,Carvalho,MEP,,,France,,,",
    )
    report = read_officials(content, "annuaire.csv")
    assert report.errors == []
    claire, paul, cnil, minister, mep = report.lines
    assert claire.email == "Claire.Dumont@example.org"
    assert (claire.role, claire.chamber, claire.departement) == (
        OfficialRole.DEPUTE,
        "Assemblée nationale",
        "75",
    )
    assert (claire.recorded_on, claire.source) == (date(2026, 1, 15), "annuaire.csv")
    assert (paul.role, paul.chamber, paul.departement) == (OfficialRole.SENATEUR, "Sénat", "01")
    assert (paul.recorded_on, paul.source) == (date(2026, 1, 31), "Relevé Sénat")
    assert (cnil.role, cnil.chamber, cnil.departement) == (OfficialRole.AUTORITE, "CNIL", "2A")
    assert (minister.chamber, minister.departement) == ("Gouvernement", None)
    assert (mep.role, mep.chamber) == (OfficialRole.DEPUTE_EUROPEEN, "Parlement européen")


def test_french_headers_semicolons_and_bom_are_read(app):
    header = "Courriel;Prénom;Nom;Rôle;Département;Circonscription;Parti;Date;Origine"
    content = csv_bytes(
        "claire@example.org;Claire;Dumont;député;75;3e;Parti A;2026-01-15;AN", header=header,
        bom=True,
    )  # fmt: skip
    report = read_officials(content, "x.csv")
    assert report.errors == []
    (line,) = report.lines
    assert (line.email, line.last_name, line.constituency, line.source) == (
        "claire@example.org",
        "Dumont",
        "3e",
        "AN",
    )


def test_every_bad_line_is_reported_with_its_line_and_field(app):
    content = csv_bytes(
        CLAIRE,
        ",Jean,Sans,député,,,,,,",
        "x@example.org,Jean,Maire,maire,,,,,,",
        "y@example.org,Jean,Loin,député,,100,,,,",
        "z@example.org,Jean,Tard,député,,,,,2026-02-30,",
        "CLAIRE.DUMONT@example.org,Claire,Bis,député,,,,,,",
        "w@example.org,Jean,Calc,député,,,,=1+1,,",
        "not-an-address,,Sans,,,,,,,",
    )
    report = read_officials(content, "annuaire.csv")
    assert errors_of(report) == [
        (3, "email", "Required."),
        (4, "role", "“maire” is not a role: write député, sénateur, député européen, "
                    "ministre, autorité or autre."),
        (5, "departement", "Not a département code (such as 01, 2A, 75 or 971)."),
        (6, "recorded_on", "Not a date: write it as YYYY-MM-DD, such as 2026-01-31."),
        (7, "email", "This address is already on line 2."),
        (8, "party", "A value cannot begin with =, +, - or @: spreadsheets run it as a formula."),
        (9, "email", "Not a valid email address."),
        (9, "first_name", "Required."),
        (9, "role", "Required."),
    ]  # fmt: skip
    assert [line.line for line in report.lines] == [2]


def test_the_civility_is_read_or_told_by_a_role_written_in_the_feminine(app):
    content = csv_bytes(
        "a@example.org,Mme,Claire,Dumont,député",
        "b@example.org,monsieur,Paul,Girard,sénateur",
        "c@example.org,M.,Yann,Kerhervé,député",
        "d@example.org,,Hélène,Marchand,sénatrice",
        "e@example.org,,Marc,Schneider,député",
        "f@example.org,Dr,Jean,Docteur,député",
        header="email,Civilité,prénom,nom,fonction",
    )
    report = read_officials(content, "x.csv")
    assert errors_of(report) == [
        (7, "Civilité", "“Dr” is not a civility: write Mme or M., or leave it empty.")
    ]
    assert [line.civility for line in report.lines] == [
        Civility.MADAME,
        Civility.MONSIEUR,
        Civility.MONSIEUR,
        Civility.MADAME,
        None,
    ]
    # Imported, then read back from the directory.
    run_import(csv_bytes(*content.decode().splitlines()[1:6], header="email,civ,prénom,nom,rôle"))
    assert [official.civility for official in officials()] == ["mme", "m", "m", "mme", None]


def test_errors_name_the_column_as_the_header_writes_it(app):
    report = read_officials(csv_bytes(",A,B,député", header="Courriel,prénom,nom,fonction"), "x")
    assert errors_of(report) == [(2, "Courriel", "Required.")]


def test_missing_unknown_and_repeated_columns_make_the_file_unreadable(app):
    report = read_officials(csv_bytes("a@example.org,A,x,x", header="email,nom,job,nom"), "x")
    assert report.unreadable and report.lines == []
    assert errors_of(report) == [
        (1, "job", "Unknown column."),
        (1, "nom", "This column appears twice."),
        (1, "first_name", "Missing column."),
        (1, "role", "Missing column."),
    ]


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\n"])
def test_an_empty_file_is_an_error(app, content):
    report = read_officials(content, "x")
    assert report.unreadable and errors_of(report) == [(1, "", "The file is empty.")]


def test_a_file_not_in_utf8_is_reported_at_its_first_bad_line(app):
    content = csv_bytes(CLAIRE, PAUL.replace("Girard", "Gérard")).replace(
        "Gérard".encode(), "Gérard".encode("cp1252")
    )
    report = read_officials(content, "x")
    assert errors_of(report) == [
        (3, "", "This line is not UTF-8 text: save the file as “CSV UTF-8”.")
    ]


# --- Importing --------------------------------------------------------------------------------


def test_import_creates_then_counts_updated_and_unchanged(app):
    first = run_import(csv_bytes(CLAIRE, PAUL))
    assert first.written and counts(first) == (2, 0, 0, 0)
    claire = next(o for o in officials() if o.last_name == "Dumont")
    assert (claire.chamber, claire.source, claire.active) == (
        "Assemblée nationale",
        "annuaire.csv",
        True,
    )
    later = utcnow() + timedelta(days=1)
    second = run_import(csv_bytes(CLAIRE.replace("Parti A", "Parti C"), PAUL, INES), now=later)
    assert second.written and counts(second) == (1, 1, 1, 0)
    assert second.plan.changes[0].changed == ("party",)
    by_name = {o.last_name: o for o in officials()}
    assert by_name["Dumont"].party == "Parti C" and by_name["Dumont"].updated_at == later
    assert by_name["Girard"].updated_at < later
    assert len(by_name) == 3
    assert [entry.count for entry in import_entries()] == [2, 2]


def test_importing_the_same_file_twice_changes_nothing_the_second_time(app):
    content = csv_bytes(CLAIRE, PAUL, INES)
    run_import(content)
    before = [(o.id, o.updated_at) for o in officials()]
    again = run_import(content, now=utcnow() + timedelta(hours=1))
    assert not again.written and counts(again) == (0, 0, 3, 0)
    assert [(o.id, o.updated_at) for o in officials()] == before
    assert len(import_entries()) == 1


def test_an_address_differing_only_by_case_is_the_same_official(app):
    existing = make_official(email="claire.dumont@example.org", last_name="Dumont")
    outcome = run_import(csv_bytes(CLAIRE.replace("claire.dumont", "Claire.Dumont")))
    assert counts(outcome)[:2] == (0, 1)
    (official,) = officials()
    assert (official.id, official.email) == (existing.id, "Claire.Dumont@example.org")


def test_a_bad_line_writes_nothing_at_all(app):
    make_official(email="paul.girard@example.org", party="Ancien")
    outcome = run_import(csv_bytes(CLAIRE, PAUL, "x@example.org,Jean,Maire,maire,,,,,,"))
    assert not outcome.written
    assert errors_of(outcome.plan)[0][:2] == (4, "role")
    assert [(o.email, o.party) for o in officials()] == [("paul.girard@example.org", "Ancien")]
    assert import_entries() == []


def test_officials_absent_from_a_file_are_kept(app):
    run_import(csv_bytes(CLAIRE, PAUL))
    outcome = run_import(csv_bytes(CLAIRE))
    assert counts(outcome) == (0, 0, 1, 0)
    assert [o.active for o in officials()] == [True, True]


def test_deactivate_missing_retires_only_the_same_source_and_a_later_import_revives(app):
    run_import(csv_bytes(CLAIRE, PAUL), source="AN")
    other = make_official(email="autre@example.org", source="Sénat")
    outcome = run_import(csv_bytes(CLAIRE), source="AN", deactivate_missing=True)
    assert outcome.written and counts(outcome) == (0, 0, 1, 1)
    state = {o.email: o.active for o in officials()}
    assert state == {
        "claire.dumont@example.org": True,
        "paul.girard@example.org": False,
        other.email: True,
    }
    back = run_import(csv_bytes(CLAIRE, PAUL), source="AN")
    assert counts(back) == (0, 1, 1, 0) and back.plan.changes[0].changed == ("active",)
    assert all(o.active for o in officials())


def test_preview_changes_nothing(app):
    plan = preview_officials_import(csv_bytes(CLAIRE, PAUL), source="x")
    assert len(plan.new) == 2 and plan.ready
    assert officials() == []


def test_the_importer_is_recorded_in_the_audit_log(app):
    user = make_user("organiser", email="orga@example.org")
    run_import(csv_bytes(CLAIRE), actor=user)
    (entry,) = import_entries()
    assert (entry.actor_id, entry.actor, entry.count) == (user.id, "orga@example.org", 1)
    assert "source: annuaire.csv; via: workspace; 1 created" in entry.detail


# --- The directory ------------------------------------------------------------------------------


def test_the_directory_filters_by_role_chamber_and_departement_and_paginates(app):
    for number in range(5):
        make_official(last_name=f"Député{number}", departement="75")
    make_official(last_name="Sénatrice", role=OfficialRole.SENATEUR, chamber="Sénat")
    make_official(last_name="Lyon", departement="69")
    make_official(last_name="Retraité", active=False)
    assert official_directory().total == 7
    assert official_directory(include_retired=True).total == 8
    assert [o.last_name for o in official_directory(role="senateur").items] == ["Sénatrice"]
    assert official_directory(chamber="Assemblée nationale", departement="75").total == 5
    page = official_directory(per_page=3, page=3)
    assert (page.page, page.pages, len(page.items)) == (3, 3, 1)
    assert official_chambers() == ["Assemblée nationale", "Sénat"]


# --- The demo ---------------------------------------------------------------------------------


def test_the_demo_file_imports_fictional_officials_once(app):
    assert load_demo_officials(utcnow()) == 19
    assert load_demo_officials(utcnow()) == 0
    directory = officials()
    assert all(o.email.endswith("@example.org") for o in directory)
    roles = {o.role for o in directory}
    assert roles == {"depute", "senateur", "depute_europeen", "ministre", "autorite"}
    assert {o.chamber for o in directory if o.role == "ministre"} == {"Gouvernement"}
    authorities = {o.chamber for o in directory if o.kind == OfficialKind.AUTHORITY}
    assert authorities == {
        "CNIL",
        "CPAM de Paris (fictive)",
        "CPAM du Rhône (fictive)",
        "Ministère de la Santé (fictif)",
    }
    assert {o.kind for o in directory if o.role == "autorite"} == {OfficialKind.AUTHORITY}
    demo_departements = {"75", "69", "13", "33", "44", "59", "31", "67"}
    assert demo_departements <= {o.departement for o in directory if o.role == "depute"}
    assert DEMO_OFFICIALS.name == "officials.csv"


def test_an_import_that_lists_a_bouncing_official_again_clears_the_mark(app):
    run_import(csv_bytes(CLAIRE, PAUL))
    claire, paul = officials()
    for official in (claire, paul):
        official.bouncing_since = utcnow()
        official.bounce_reason = "recipient refused [550]"
    db.session.commit()
    # Claire is listed again, unchanged otherwise: her address gets another chance.
    outcome = run_import(csv_bytes(CLAIRE), now=utcnow() + timedelta(hours=1))
    assert counts(outcome) == (0, 1, 0, 0)
    assert outcome.plan.changes[0].changed == ("bouncing",)
    claire, paul = officials()
    assert not claire.bouncing and claire.bounce_reason == ""
    assert paul.bouncing


# --- Authorities (issue 17.6) ------------------------------------------------------------------


def test_authorities_are_imported_as_institutions_with_their_head_optional(app):
    content = csv_bytes(
        "accueil@cpam-paris.example.org,,,autorité,CPAM de Paris,75,,,,",
        "presidence@cnil.example.org,Mathilde,Roussel,institution,CNIL,,,,,",
        "sans-nom@example.org,,,autorité,,,,,,",
        "personne@example.org,,,député,,75,,,,",
    )
    assert errors_of(read_officials(content, "x")) == [
        (4, "chamber", "An authority needs its name here (CNIL, CPAM de Paris, "
                       "Ministère de la Santé…)."),
        (5, "first_name", "Required."),
        (5, "last_name", "Required."),
    ]  # fmt: skip
    outcome = run_import(csv_bytes(*content.decode().splitlines()[1:3]))
    assert counts(outcome) == (2, 0, 0, 0)
    cpam, cnil = sorted(officials(), key=lambda official: official.email)
    assert (cpam.kind, cpam.full_name, cpam.recipient_name) == (
        OfficialKind.AUTHORITY,
        "CPAM de Paris",
        "CPAM de Paris",
    )
    assert (cnil.kind, cnil.recipient_name) == (OfficialKind.AUTHORITY, "CNIL (Mathilde Roussel)")
    # Importing the same file again changes nothing: the kind is part of the record.
    assert counts(run_import(csv_bytes(*content.decode().splitlines()[1:3]))) == (0, 0, 2, 0)


def test_the_directory_filters_by_kind(app):
    make_official(last_name="Dumont")
    make_official(first_name="", last_name="", role=OfficialRole.AUTORITE, chamber="CNIL")
    assert [o.chamber for o in official_directory(kind="authority").items] == ["CNIL"]
    assert [o.last_name for o in official_directory(kind="person").items] == ["Dumont"]
    # An authority without a head sorts by its own name.
    assert [o.last_name or o.chamber for o in official_directory().items] == ["CNIL", "Dumont"]
