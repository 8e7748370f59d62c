"""`flask officials import`: counts, dry run, errors on standard error and exit status."""

import pytest
from sqlalchemy import select

from campaign.audit import AuditEntry
from campaign.extensions import db
from campaign.officials.models import Official
from tests.factories import make_official, make_user

HEADER = "email,first_name,last_name,role,chamber,departement,constituency,party,recorded_on,source"
CLAIRE = "claire.dumont@example.org,Claire,Dumont,députée,,75,,Parti A,2026-01-15,"
PAUL = "paul.girard@example.org,Paul,Girard,sénateur,Sénat,69,,Parti B,2026-01-10,"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        return runner.invoke(args=["officials", "import", *args])

    return invoke


@pytest.fixture
def officials_file(tmp_path):
    def write(*lines: str, name: str = "annuaire.csv") -> str:
        path = tmp_path / name
        path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
        return str(path)

    return write


def officials() -> list[Official]:
    db.session.expire_all()
    return list(db.session.scalars(select(Official).order_by(Official.email)))


def test_cli_imports_then_reports_the_same_file_unchanged(cli, officials_file):
    path = officials_file(CLAIRE, PAUL, name="an-2026.csv")
    result = cli(path)
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated, 0 unchanged, 0 deactivated" in result.stdout
    assert "imported from 'an-2026.csv'" in result.stdout
    assert {o.source for o in officials()} == {"an-2026.csv"}
    again = cli(path)
    assert again.exit_code == 0
    assert "0 created, 0 updated, 2 unchanged, 0 deactivated" in again.stdout
    assert "nothing imported" in again.stdout
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.actor == "cli")).all()
    assert [entry.count for entry in entries] == [2]


def test_cli_source_and_account_are_recorded(cli, officials_file):
    user = make_user("admin", email="admin@example.org")
    result = cli(officials_file(CLAIRE), "--source", "Relevé AN", "--as", "admin@example.org")
    assert result.exit_code == 0, result.output
    assert officials()[0].source == "Relevé AN"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "officials imported"))
    assert entry.actor_id == user.id


def test_cli_dry_run_changes_nothing(cli, officials_file):
    result = cli(officials_file(CLAIRE, PAUL), "--dry-run")
    assert result.exit_code == 0
    assert "2 created" in result.stdout and "dry run: nothing imported" in result.stdout
    assert officials() == []


def test_cli_prints_each_error_with_line_and_field_and_exits_1(cli, officials_file):
    make_official(email="paul.girard@example.org", party="Ancien")
    path = officials_file(
        CLAIRE, PAUL, ",Jean,Sans,député,,,,,,", "x@example.org,Jean,Maire,maire,,100,,,,"
    )
    result = cli(path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 4, field email: Required.",
        "line 5, field role: “maire” is not a role: write député, sénateur, député européen, "
        "ministre, autorité or autre.",
        "line 5, field departement: Not a département code (such as 01, 2A, 75 or 971).",
    ]
    assert "2 invalid line(s), 2 valid" in result.stdout and "nothing imported" in result.stdout
    assert [(o.email, o.party) for o in officials()] == [("paul.girard@example.org", "Ancien")]


def test_cli_deactivate_missing_retires_the_officials_the_file_dropped(cli, officials_file):
    cli(officials_file(CLAIRE, PAUL), "--source", "AN")
    result = cli(officials_file(CLAIRE), "--source", "AN", "--deactivate-missing")
    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 1 unchanged, 1 deactivated" in result.stdout
    assert [o.active for o in officials()] == [True, False]


def test_cli_refuses_an_empty_source(cli, officials_file):
    result = cli(officials_file(CLAIRE), "--source", " ")
    assert result.exit_code == 2 and "--source" in result.output
    assert officials() == []
