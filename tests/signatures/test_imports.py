"""Import of signatures collected elsewhere: reading and checking the CSV list, duplicates,
the two modes, and `flask signatures import`."""

from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mail.outbox import OutboxMessage, OutboxStatus
from campaign.personal_data import decrypt_email, email_digest
from campaign.petitions.models import PetitionCategory, PetitionStatus
from campaign.petitions.services import ensure_default_categories
from campaign.signatures.imports import (
    ImportMode,
    ImportNotAllowed,
    import_signatures,
    preview_import,
    read_signature_list,
)
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import published_signatories, signature_count
from tests.factories import make_petition, make_signature, make_user
from tests.support import csrf_token, links_in, path_of, text_part

HEADER = "last_name,first_name,title,organisation,category,email,departement,show_name"


def csv_bytes(*lines: str, header: str = HEADER, bom: bool = False) -> bytes:
    text = "\n".join([header, *lines]) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def errors_of(report_or_plan) -> list[tuple[int, str, str]]:
    with force_locale("en"):
        return [(error.line, error.field, str(error.reason)) for error in report_or_plan.errors]


def signatures() -> list[Signature]:
    return list(db.session.scalars(select(Signature).order_by(Signature.id)))


def audit_entries() -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action != "login")))


def run_import(petition, content, mode=ImportMode.CONFIRMED, **options):
    options.setdefault("source", "liste-papier.csv")
    options.setdefault("now", utcnow())
    return import_signatures(petition, content, mode=mode, **options)


# --- Reading and checking --------------------------------------------------------------------


def test_every_invalid_line_is_reported_with_its_line_number_field_and_reason(app):
    petition = make_petition()
    content = csv_bytes(
        "Martin,Alice,Médecin,AP-HP,clinician,alice@example.fr,75,1",
        ",Bob,,,citizen,,,1",
        "Durand,www.spam.com,,,engineer,,,0",
        "Petit,Léa,,,astronaut,lea@,999,yes",
        "Roux,Paul," + "x" * 201 + ",,citizen,,,1",
        "Blanc,Eve,,,citizen,,2a,0",
    )
    report = read_signature_list(content, petition, ImportMode.CONFIRMED)
    assert [line.line for line in report.lines] == [2, 7]
    assert report.lines[1].departement == "2A"
    assert errors_of(report) == [
        (3, "last_name", "Required."),
        (4, "first_name", "A name cannot contain a web address."),
        (
            5,
            "category",
            "“astronaut” is not a category of this petition "
            "(citizen, clinician, engineer, mp, organisation, researcher).",
        ),
        (5, "email", "Not a valid email address."),
        (5, "departement", "Not a département code (such as 01, 2A, 75 or 971)."),
        (5, "show_name", "Must be 0 (count only) or 1 (publish)."),
        (6, "title", "At most 200 characters."),
    ]
    assert report.invalid == 4


def test_control_characters_in_a_name_are_refused_like_on_the_sign_form(app):
    petition = make_petition()
    content = csv_bytes("Blanc\u202e,Eve,,,citizen,,,0", '"Noir\nBis",Eve,,,citizen,,,0')
    report = read_signature_list(content, petition, ImportMode.CONFIRMED)
    reason = "This field contains characters that are not allowed."
    assert errors_of(report) == [(2, "last_name", reason), (3, "last_name", reason)]


def test_line_numbers_count_the_header_as_line_one_and_skip_nothing(app):
    petition = make_petition()
    content = csv_bytes(
        "Martin,Alice,,,citizen,,,1", "", ",,,,,,,", "Durand,Luc,,,nope,,,1", header=HEADER
    )
    report = read_signature_list(content, petition, ImportMode.CONFIRMED)
    assert [line.line for line in report.lines] == [2]
    assert [(line, field) for line, field, _reason in errors_of(report)] == [(5, "category")]


def test_file_with_bom_and_semicolons_is_read(app):
    petition = make_petition()
    content = csv_bytes(
        "Martin;Alice;Médecin;AP-HP, Paris;clinician;alice@example.fr;75;1",
        header=HEADER.replace(",", ";"),
        bom=True,
    )
    report = read_signature_list(content, petition, ImportMode.CONFIRMED)
    assert report.errors == []
    (line,) = report.lines
    assert (line.last_name, line.organisation, line.email) == (
        "Martin",
        "AP-HP, Paris",
        "alice@example.fr",
    )


def test_comma_file_with_quoted_commas_columns_in_any_order_and_windows_line_ends(app):
    petition = make_petition()
    header = "email,show_name,Last_Name,first_name,title,organisation,category,departement"
    content = (
        f'{header}\r\nalice@example.fr,1,Martin,Alice,"Médecin, cheffe",AP-HP,clinician,\r\n'
    ).encode()
    report = read_signature_list(content, petition, ImportMode.CONFIRMED)
    assert report.errors == []
    assert report.lines[0].title == "Médecin, cheffe"
    assert report.lines[0].public_line() == "Martin Alice, Médecin, cheffe, AP-HP"


def test_unknown_and_missing_columns_are_named_and_nothing_is_read(app):
    petition = make_petition()
    content = csv_bytes(
        "Martin,Alice,x,clinician,a@example.fr,75,1,",
        header="last_name,first_name,job,category,email,departement,show_name,show_name",
    )
    report = read_signature_list(content, petition, ImportMode.CONFIRMED)
    assert report.unreadable and report.lines == []
    assert errors_of(report) == [
        (1, "job", "Unknown column."),
        (1, "show_name", "This column appears twice."),
        (1, "title", "Missing column."),
        (1, "organisation", "Missing column."),
    ]


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\n"])
def test_empty_file_is_an_error(app, content):
    report = read_signature_list(content, make_petition(), ImportMode.CONFIRMED)
    assert report.unreadable
    assert errors_of(report) == [(1, "", "The file is empty.")]


def test_file_not_in_utf8_is_reported_at_its_first_bad_line(app):
    content = csv_bytes("Martin,Alice,,,citizen,,,1", "Hélène,Zoé,,,citizen,,,1")
    content = content.replace("Hélène".encode(), "Hélène".encode("cp1252"))
    report = read_signature_list(content, make_petition(), ImportMode.CONFIRMED)
    assert report.unreadable
    assert errors_of(report) == [
        (3, "", "This line is not UTF-8 text: save the file as “CSV UTF-8”.")
    ]


def test_line_with_more_values_than_columns_is_an_error(app):
    content = csv_bytes("Martin,Alice,,,citizen,,,1,extra", "Durand,Luc,,,citizen,,,1,")
    report = read_signature_list(content, make_petition(), ImportMode.CONFIRMED)
    assert [line.line for line in report.lines] == [3]
    assert errors_of(report) == [(2, "", "9 values for 8 columns.")]


def test_a_quotation_mark_left_open_is_reported_where_it_opens(app):
    rest = [
        f"Nom{n},Prénom{n},Titre,Organisation,citizen,s{n}@example.org,75,1" for n in range(3000)
    ]
    content = csv_bytes("Martin,Alice,,,citizen,,,1", 'Durand,"Luc,,,citizen,,,1', *rest)
    report = read_signature_list(content, make_petition(), ImportMode.CONFIRMED)
    assert report.unreadable and report.lines == []
    assert errors_of(report) == [(3, "", "This line cannot be read: check its quotation marks.")]


def test_category_must_be_offered_by_this_petition(app):
    petition = make_petition()
    petition.offered_categories = [PetitionCategory(category_key="clinician", position=0)]
    db.session.commit()
    content = csv_bytes("Martin,Alice,,,CLINICIAN,,,1", "Durand,Luc,,,citizen,,,1")
    report = read_signature_list(content, petition, ImportMode.CONFIRMED)
    assert report.lines[0].category_key == "clinician"
    assert errors_of(report) == [
        (3, "category", "“citizen” is not a category of this petition (clinician).")
    ]


def test_sending_confirmations_needs_an_email_on_every_line(app):
    content = csv_bytes("Martin,Alice,,,citizen,alice@example.fr,,1", "Durand,Luc,,,citizen,,,1")
    report = read_signature_list(content, make_petition(), ImportMode.SEND_CONFIRMATION)
    assert errors_of(report) == [
        (3, "email", "An email address is needed to send the confirmation email.")
    ]


# --- Importing -------------------------------------------------------------------------------


def test_confirmed_import_counts_every_line_and_publishes_the_lines_marked_1(app):
    petition = make_petition()
    organiser = make_user("organiser")
    now = utcnow()
    content = csv_bytes(
        "Martin,Alice,Médecin,AP-HP,clinician,Alice@Example.fr,75,1",
        "Durand,Luc,Ingénieur,Inria,engineer,,,0",
    )
    outcome = import_signatures(
        petition,
        content,
        mode=ImportMode.CONFIRMED,
        source="tribune-papier.csv",
        now=now,
        actor=organiser,
    )
    assert outcome.imported == 2
    alice, luc = signatures()
    assert alice.status == SignatureStatus.CONFIRMED and alice.confirmed_at == now
    assert (alice.show_name, alice.show_title, alice.show_organisation) == (True, True, True)
    assert (luc.show_name, luc.show_title, luc.show_organisation) == (False, False, False)
    assert alice.email_digest == email_digest("alice@example.fr")
    assert decrypt_email(alice.email_ciphertext) == "Alice@Example.fr"
    assert luc.email_digest is None and luc.email_ciphertext is None
    for signature in (alice, luc):
        assert signature.source == "tribune-papier.csv"
        assert signature.imported_at == now and signature.imported_by_id == organiser.id
        assert signature.consent_version == "import:tribune-papie"
        assert signature.consented_at == now and signature.contact_ok is False
        assert signature.text_version == petition.current_version
    assert (alice.departement, alice.sort_last, luc.departement) == ("75", "martin", None)
    assert signature_count(petition.id) == 2
    listed = published_signatories(petition.id)
    assert [s.last_name for s in listed.items] == ["Martin"]
    (entry,) = audit_entries()
    assert (entry.action, entry.actor, entry.actor_id) == (
        "signatures imported",
        organiser.email,
        organiser.id,
    )
    assert (entry.petition_id, entry.count, entry.at) == (petition.id, 2, now)
    assert "tribune-papier.csv" in entry.detail and "confirmed" in entry.detail
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_reimporting_the_same_file_changes_nothing(app):
    petition = make_petition()
    content = csv_bytes(
        "Martin,Alice,,,citizen,alice@example.fr,,1", "Durand,Luc,,Inria,engineer,,,0"
    )
    run_import(petition, content)
    before = [(s.id, s.status, s.status_changed_at) for s in signatures()]
    entries = len(audit_entries())
    outcome = run_import(petition, content, now=utcnow() + timedelta(days=1))
    assert outcome.imported == 0 and outcome.plan.duplicates == 2
    assert [(s.id, s.status, s.status_changed_at) for s in signatures()] == before
    assert len(audit_entries()) == entries


def test_lines_without_email_are_recognised_by_name_and_organisation(app):
    petition = make_petition()
    run_import(petition, csv_bytes("Lefèvre,Hélène,,CHU de Lyon,citizen,,,1"))
    content = csv_bytes(
        "LEFEVRE,helene,,chu de lyon,citizen,,,1",
        "Lefèvre,Hélène,,CHU de Nantes,citizen,,,1",
        "Lefèvre,Hélène,,,citizen,,,1",
    )
    plan = preview_import(petition, content, ImportMode.CONFIRMED)
    assert plan.duplicates == 1
    assert [line.line for line in plan.new] == [3, 4]


def test_a_list_naming_the_same_person_twice_imports_them_once(app):
    petition = make_petition()
    content = csv_bytes(
        "Martin,Alice,,,citizen,alice@example.fr,,1",
        "Martin,Alice B.,,,citizen,ALICE@example.fr,,1",
        "Durand,Luc,,Inria,engineer,,,0",
        "Durand,Luc,,INRIA,engineer,,,0",
    )
    outcome = run_import(petition, content)
    assert (outcome.imported, outcome.plan.duplicates) == (2, 2)
    assert [s.first_name for s in signatures()] == ["Alice", "Luc"]


def test_an_online_signature_with_the_same_mailbox_counts_as_already_there(app):
    petition = make_petition()
    online = make_signature(petition, email="alice.martin@gmail.com", status="pending")
    content = csv_bytes("Martin,Alice,,,citizen,AliceMartin+tribune@gmail.com,,1")
    outcome = run_import(petition, content)
    assert (outcome.imported, outcome.plan.duplicates) == (0, 1)
    assert [s.id for s in signatures()] == [online.id]
    assert signatures()[0].status == SignatureStatus.PENDING


def test_nothing_is_imported_while_a_line_is_invalid(app):
    petition = make_petition()
    content = csv_bytes("Martin,Alice,,,citizen,,,1", "Durand,Luc,,,nope,,,1")
    outcome = run_import(petition, content)
    assert outcome.imported == 0 and outcome.plan.invalid == 1
    assert signatures() == [] and audit_entries() == []


def test_skip_invalid_imports_the_valid_lines_and_says_how_many_were_left_out(app):
    petition = make_petition()
    content = csv_bytes("Martin,Alice,,,citizen,,,1", "Durand,Luc,,,nope,,,1")
    outcome = run_import(petition, content, skip_invalid=True)
    assert outcome.imported == 1
    assert [s.last_name for s in signatures()] == ["Martin"]
    assert "1 invalid line(s)" in audit_entries()[0].detail


def test_unreadable_file_imports_nothing_even_when_skipping_invalid_lines(app):
    petition = make_petition()
    outcome = run_import(petition, csv_bytes("Martin", header="name"), skip_invalid=True)
    assert outcome.imported == 0 and signatures() == []


def test_archived_petition_refuses_imports(app):
    petition = make_petition(status=PetitionStatus.ARCHIVED)
    content = csv_bytes("Martin,Alice,,,citizen,,,1")
    with pytest.raises(ImportNotAllowed):
        preview_import(petition, content, ImportMode.CONFIRMED)
    with pytest.raises(ImportNotAllowed):
        run_import(petition, content)
    assert signatures() == []


def test_send_confirmation_imports_pending_signatures_with_their_outbox_rows(app):
    petition = make_petition()
    content = csv_bytes(
        "Martin,Alice,,,citizen,alice@example.fr,,1", "Durand,Luc,,,citizen,luc@example.fr,,0"
    )
    outcome = run_import(petition, content, mode=ImportMode.SEND_CONFIRMATION)
    assert outcome.imported == 2
    assert {s.status for s in signatures()} == {SignatureStatus.PENDING}
    assert signature_count(petition.id) == 0
    assert [s.confirmation_sends for s in signatures()] == [1, 1]
    outbox = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [m.signature_id for m in outbox] == [s.id for s in signatures()]
    # No SMTP server configured: the in-process job wrote them to the outbox folder.
    assert {m.status for m in outbox} == {OutboxStatus.SENT}


# --- The command line ------------------------------------------------------------------------


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=["signatures", "import", *args])

    return invoke


@pytest.fixture
def list_file(tmp_path):
    def write(*lines: str, name: str = "liste.csv", **options) -> str:
        path = tmp_path / name
        path.write_bytes(csv_bytes(*lines, **options))
        return str(path)

    return write


def test_cli_imports_a_list_and_records_the_command_line_as_author(cli, list_file):
    petition = make_petition()
    path = list_file("Martin,Alice,,,citizen,alice@example.fr,,1", name="papier.csv")
    result = cli(path, "--petition", petition.slug, "--confirmed")
    assert result.exit_code == 0, result.output
    assert f"{petition.slug}: 1 new, 0 already there, 0 invalid line(s)" in result.stdout
    assert "imported 1 signature(s) from 'papier.csv' (confirmed)" in result.stdout
    assert result.stderr == ""
    (signature,) = signatures()
    assert (signature.source, signature.imported_by_id) == ("papier.csv", None)
    (entry,) = audit_entries()
    assert (entry.actor, entry.actor_id, entry.count) == ("cli", None, 1)


def test_cli_records_the_source_and_the_account_given(cli, list_file):
    petition = make_petition()
    organiser = make_user("organiser", email="orga@example.org")
    path = list_file("Martin,Alice,,,citizen,,,1")
    result = cli(
        path, "--petition", petition.slug, "--confirmed", "--source", "Salon 2025", "--as",
        "ORGA@example.org",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (signature,) = signatures()
    assert (signature.source, signature.imported_by_id) == ("Salon 2025", organiser.id)
    assert audit_entries()[0].actor == "orga@example.org"


def test_cli_prints_every_error_on_stderr_imports_nothing_and_exits_1(cli, list_file):
    petition = make_petition()
    path = list_file("Martin,Alice,,,citizen,,,1", "Durand,,,,citizen,bad,,2")
    result = cli(path, "--petition", petition.slug, "--confirmed")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 3, field first_name: Required.",
        "line 3, field email: Not a valid email address.",
        "line 3, field show_name: Must be 0 (count only) or 1 (publish).",
    ]
    assert "nothing imported" in result.stdout
    assert signatures() == [] and audit_entries() == []


def test_cli_skip_invalid_imports_the_valid_lines_and_still_exits_1(cli, list_file):
    petition = make_petition()
    path = list_file("Martin,Alice,,,citizen,,,1", "Durand,Luc,,,nope,,,1")
    result = cli(path, "--petition", petition.slug, "--confirmed", "--skip-invalid")
    assert result.exit_code == 1
    assert "line 3, field category:" in result.stderr
    assert [s.last_name for s in signatures()] == ["Martin"]


def test_cli_dry_run_reports_new_duplicates_and_invalid_lines_and_changes_nothing(cli, list_file):
    petition = make_petition()
    make_signature(petition, email="alice@example.fr")
    before = [(s.id, s.status) for s in signatures()]
    path = list_file(
        "Martin,Alice,,,citizen,alice@example.fr,,1",
        "Durand,Luc,,,citizen,,,1",
        "Petit,Léa,,,nope,,,1",
    )
    result = cli(path, "--petition", petition.slug, "--confirmed", "--dry-run", "--skip-invalid")
    assert result.exit_code == 1
    assert "1 new, 1 already there, 1 invalid line(s)" in result.stdout
    assert "dry run: nothing imported" in result.stdout
    assert [(s.id, s.status) for s in signatures()] == before
    assert audit_entries() == []


def test_cli_dry_run_exits_0_only_when_every_line_can_be_imported(cli, list_file):
    petition = make_petition()
    result = cli(list_file("Martin,Alice,,,citizen,,,1"), "--petition", petition.slug,
                 "--send-confirmation", "--dry-run")  # fmt: skip
    assert result.exit_code == 1  # no email: cannot be sent a confirmation
    result = cli(list_file("Martin,Alice,,,citizen,a@example.fr,,1"), "--petition",
                 petition.slug, "--send-confirmation", "--dry-run")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert signatures() == []


@pytest.mark.parametrize("modes", [[], ["--confirmed", "--send-confirmation"]])
def test_cli_needs_exactly_one_mode(cli, list_file, modes):
    petition = make_petition()
    result = cli(list_file("Martin,Alice,,,citizen,,,1"), "--petition", petition.slug, *modes)
    assert result.exit_code == 2
    assert "exactly one of --confirmed and --send-confirmation" in result.stderr
    assert signatures() == []


def test_cli_refuses_an_unknown_petition_or_account(cli, list_file):
    petition = make_petition()
    path = list_file("Martin,Alice,,,citizen,,,1")
    result = cli(path, "--petition", "nope", "--confirmed")
    assert result.exit_code == 1 and "no petition 'nope'" in result.stderr
    result = cli(path, "--petition", petition.slug, "--confirmed", "--as", "who@example.org")
    assert result.exit_code == 1 and "no workspace account" in result.stderr
    assert signatures() == []


@pytest.fixture
def mailing_app(make_app, smtp_config):
    """The app sending mail to the test SMTP server, with its context pushed."""
    app = make_app(**smtp_config)
    with app.app_context():
        ensure_default_categories()
        db.session.commit()
        yield app
        db.session.remove()


def test_cli_send_confirmation_mails_each_signer_a_link_that_confirms(
    mailing_app, mailbox, tmp_path
):
    petition = make_petition()
    path = tmp_path / "liste.csv"
    path.write_bytes(
        csv_bytes(
            "Martin,Alice,,,citizen,alice@example.fr,,1", "Durand,Luc,,,citizen,luc@example.fr,,0"
        )
    )
    runner = mailing_app.test_cli_runner()
    result = runner.invoke(
        args=["signatures", "import", str(path), "--petition", petition.slug,
              "--send-confirmation"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    mailbox.wait_for(2)
    assert len(mailbox.to("alice@example.fr")) == len(mailbox.to("luc@example.fr")) == 1
    assert signature_count(petition.id) == 0
    link = path_of(links_in(text_part(mailbox.to("alice@example.fr")[0]))[0])
    browser = mailing_app.test_client()
    token = csrf_token(browser, link)
    assert browser.post(link, data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert signature_count(petition.id) == 1
    assert [s.last_name for s in published_signatories(petition.id).items] == ["Martin"]
