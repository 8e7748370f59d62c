"""RPPS numbers and their Luhn check, comparing names, and importing the register extract:
streamed, a new generation switched to atomically, bad files refused line by line."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaign.clock import utcnow
from campaign.errors import InvalidRegistryNumber
from campaign.extensions import db
from campaign.levels import checked_rpps, luhn_valid
from campaign.verification import registries
from campaign.verification.models import ImportStatus, RegistryImport, RppsRecord
from campaign.verification.registries import (
    active_register,
    import_rpps_register,
    look_up_rpps,
    name_key,
    names_agree,
)
from tests.verification.conftest import RPPS_HEADER, extract_line, extract_text

FONTAINE = "99900000011"
LEFEVRE = "99900000029"
NDIAYE = "99900000037"
ROUSSEAU = "99900000052"


def import_lines(lines: list[str], **options):
    return import_rpps_register(
        extract_text(lines).splitlines(keepends=True), "test.txt", utcnow(), **options
    )


# --- Luhn ---------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["79927398713", FONTAINE, LEFEVRE, "00000000000"])
def test_luhn_accepts_numbers_ending_with_their_check_digit(number):
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["79927398710", "99900000012", "10003587491", "", "1234a"])
def test_luhn_refuses_a_wrong_check_digit_or_non_digits(number):
    assert not luhn_valid(number)


def test_an_rpps_number_is_read_without_spaces_dots_or_dashes():
    assert checked_rpps(" 999 000 000 11 ") == FONTAINE
    assert checked_rpps("999.000.000-11") == FONTAINE


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("9990000001", "11 digits"),
        ("999000000111", "11 digits"),
        ("9990000001x", "11 digits"),
        ("９９９００００００１１", "11 digits"),
        ("99900000012", "check digit"),
    ],
)
def test_a_malformed_rpps_number_is_refused_with_its_reason(text, reason):
    with pytest.raises(InvalidRegistryNumber, match=reason):
        checked_rpps(text)


# --- Names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signed", "register"),
    [
        (("Hélène", "Lefèvre"), ("HELENE", "LEFEVRE")),
        (("Jean-Baptiste", "Martin-Dubois"), ("JEAN BAPTISTE", "MARTIN DUBOIS")),
        (("aïssatou", "n'diaye"), ("Aïssatou", "N'DIAYE")),
        (("Chloé", "Lœuillet"), ("CHLOE", "LOEUILLET")),
        (("Éric", "Le Bouter"), ("ERIC", "LEBOUTER")),
    ],
)
def test_names_agree_ignoring_accents_case_and_hyphens(signed, register):
    assert names_agree(*signed, *register)


@pytest.mark.parametrize(
    ("signed", "register"),
    [
        (("Hélène", "Lefèvre"), ("HELENE", "LEFEBVRE")),
        (("Jean", "Martin"), ("JEANNE", "MARTIN")),
        (("Paul", "Martin"), ("MARTIN", "PAUL")),
        (("", ""), ("", "")),
    ],
)
def test_different_or_empty_names_do_not_agree(signed, register):
    assert not names_agree(*signed, *register)


def test_name_key_keeps_letters_and_digits_only():
    assert name_key("  D'Estienne-d'Orves ") == name_key("DESTIENNE DORVES") == "destiennedorves"


# --- Importing ------------------------------------------------------------------------------


def test_import_keeps_one_record_per_activity_profession_and_skips_adeli_lines(app):
    report = import_lines(
        [
            extract_line(FONTAINE, "FONTAINE", "Camille", site="Centre hospitalier"),
            extract_line(FONTAINE, "FONTAINE", "Camille", site="Cabinet de la Gare"),
            extract_line(LEFEVRE, "LEFÈVRE", "Hélène", "60", "Infirmier"),
            extract_line("751234567", "DURAND", "Marc", "26", "Audioprothésiste", kind="0"),
        ]
    )
    assert report.imported and report.errors == []
    assert (report.lines, report.records, report.people, report.skipped) == (4, 2, 2, 1)
    register = active_register()
    assert register.status == ImportStatus.ACTIVE and register.record_count == 2


def test_a_number_matches_under_its_names_with_or_without_accents(app):
    import_lines(
        [
            extract_line(LEFEVRE, "LEFÈVRE", "Hélène", "60", "Infirmier"),
            extract_line(NDIAYE, "N'DIAYE", "AISSATOU", "21", "Pharmacien"),
        ]
    )
    answer = look_up_rpps(LEFEVRE, "helene", "Lefevre")
    assert (answer.found, answer.matched, answer.profession) == (True, True, "Infirmier")
    assert look_up_rpps(NDIAYE, "Aïssatou", "N'Diaye").matched
    other = look_up_rpps(LEFEVRE, "Hélène", "Martin")
    assert (other.found, other.matched, other.profession) == (True, False, None)
    assert other.register_names == ("LEFÈVRE Hélène",)
    missing = look_up_rpps(FONTAINE, "Camille", "Fontaine")
    assert (missing.found, missing.matched) == (False, False)


def test_several_activities_with_two_professions_give_both_labels(app):
    import_lines(
        [
            extract_line(FONTAINE, "FONTAINE", "Camille", "10", "Médecin"),
            extract_line(FONTAINE, "FONTAINE", "Camille", "10", "Médecin", site="Autre site"),
            extract_line(FONTAINE, "FONTAINE", "Camille", "21", "Pharmacien"),
        ]
    )
    assert look_up_rpps(FONTAINE, "Camille", "Fontaine").profession == "Médecin, Pharmacien"


def test_a_new_import_replaces_the_previous_register_entirely(app):
    first = import_lines([extract_line(FONTAINE, "FONTAINE", "Camille")])
    second = import_lines([extract_line(ROUSSEAU, "ROUSSEAU", "Léa", "50", "Sage-Femme")])
    assert first.imported and second.imported
    assert not look_up_rpps(FONTAINE, "Camille", "Fontaine").found
    assert look_up_rpps(ROUSSEAU, "Léa", "Rousseau").matched
    generations = db.session.execute(select(RegistryImport.id, RegistryImport.status)).all()
    assert generations == [(second.import_id, ImportStatus.ACTIVE)]
    assert db.session.scalar(select(func.count(RppsRecord.id))) == 1


def test_the_new_generation_is_invisible_until_the_switch(app, monkeypatch):
    import_lines([extract_line(FONTAINE, "FONTAINE", "Camille")])
    seen = []

    def lines():
        yield RPPS_HEADER + "\n"
        yield extract_line(ROUSSEAU, "ROUSSEAU", "Léa") + "\n"
        # Mid-import, a batch is already written: look-ups still read the old register.
        seen.append(
            (
                look_up_rpps(FONTAINE, "Camille", "Fontaine").found,
                look_up_rpps(ROUSSEAU, "Léa", "Rousseau").found,
            )
        )
        yield extract_line(NDIAYE, "N'DIAYE", "Aïssatou") + "\n"

    monkeypatch.setattr(registries, "BATCH_SIZE", 1)
    report = import_rpps_register(lines(), "live.txt", utcnow())
    assert report.imported and report.records == 2
    assert seen == [(True, False)]
    assert look_up_rpps(ROUSSEAU, "Léa", "Rousseau").found
    assert not look_up_rpps(FONTAINE, "Camille", "Fontaine").found


def test_the_file_is_read_as_a_stream_never_whole(app, monkeypatch):
    monkeypatch.setattr(registries, "BATCH_SIZE", 2)
    consumed = []

    def lines():
        yield RPPS_HEADER + "\n"
        for number in (FONTAINE, LEFEVRE, NDIAYE, ROUSSEAU):
            consumed.append(number)
            yield extract_line(number, "NOM", "Prénom") + "\n"
            # Batches are written while the file is still being read.
            consumed.append(db.session.scalar(select(func.count(RppsRecord.id))))

    report = import_rpps_register(lines(), "stream.txt", utcnow())
    assert report.imported and report.records == 4
    assert consumed == [FONTAINE, 0, LEFEVRE, 2, NDIAYE, 2, ROUSSEAU, 4]


def test_a_bad_line_changes_nothing_and_is_named_by_line_and_field(app):
    import_lines([extract_line(FONTAINE, "FONTAINE", "Camille")])
    before = active_register().id
    report = import_lines(
        [
            extract_line(ROUSSEAU, "ROUSSEAU", "Léa"),
            extract_line("99900000012", "FAUX", "Numéro"),
            extract_line(LEFEVRE, "", "Hélène"),
            "8|" + NDIAYE + "|too|short",
        ]
    )
    assert not report.imported
    assert [str(error) for error in report.errors] == [
        "line 3, field 'Identifiant PP': the check digit of this RPPS number does not match "
        "('99900000012')",
        'line 4, field "Nom d\'exercice": empty',
        'line 5: 4 fields separated by "|", the header row 53',
    ]
    assert active_register().id == before
    assert look_up_rpps(FONTAINE, "Camille", "Fontaine").found
    assert not look_up_rpps(ROUSSEAU, "Léa", "Rousseau").found
    assert db.session.scalar(select(func.count(RegistryImport.id))) == 1


def test_skip_invalid_imports_the_valid_lines(app):
    report = import_lines(
        [extract_line("12345", "COURT", "Numéro"), extract_line(ROUSSEAU, "ROUSSEAU", "Léa")],
        skip_invalid=True,
    )
    assert report.imported and report.records == 1 and report.invalid == 1
    assert look_up_rpps(ROUSSEAU, "Léa", "Rousseau").matched


def test_a_header_without_the_needed_columns_is_refused(app):
    header = RPPS_HEADER.replace("Identifiant PP|", "Identifiant|", 1)
    report = import_rpps_register(
        extract_text([extract_line(FONTAINE, "FONTAINE", "Camille")], header).splitlines(),
        "wrong.txt",
        utcnow(),
    )
    assert not report.imported
    assert [str(error) for error in report.errors] == [
        "line 1, field 'Identifiant PP': missing column in the header row"
    ]
    assert active_register() is None


def test_an_empty_file_or_one_without_rpps_numbers_is_refused(app):
    assert str(import_rpps_register([], "empty.txt", utcnow()).errors[0]) == (
        "line 1: the file is empty"
    )
    adeli_only = import_lines([extract_line("751234567", "DURAND", "Marc", kind="0")])
    assert not adeli_only.imported
    assert "no RPPS number in the file" in str(adeli_only.errors[0])
    assert db.session.scalar(select(func.count(RegistryImport.id))) == 0


def test_a_file_that_is_not_utf8_is_refused(app, write_extract):
    path = write_extract([extract_line(FONTAINE, "FONTAINE", "Camille")])
    path.write_bytes(
        path.read_bytes() + extract_line(LEFEVRE, "LEFÈVRE", "Hélène").encode("latin-1")
    )
    with path.open(encoding="utf-8", newline="") as lines:
        report = import_rpps_register(lines, path.name, utcnow())
    assert not report.imported and "not UTF-8" in str(report.errors[0])
    assert active_register() is None
