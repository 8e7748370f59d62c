"""The institutions directory: CSV import (all or nothing, errors by line and field), the
`flask institutions import` command, and the choice of institutions by département."""

from flask_babel import force_locale
from sqlalchemy import func, select

from campaign.clock import utcnow
from campaign.demo import DEMO_INSTITUTIONS
from campaign.extensions import db
from campaign.objections.institutions import import_institutions, institutions_for
from campaign.objections.models import Channel, Institution, InstitutionKind

HEADER = "key;name;kind;channel;email;portal_url;postal_address;answer_days;departements"
FUND = 'cpam-75;Caisse de Paris;caisse;courriel;dpo@example.org;;"1 rue A\n75000 Paris";;75 92'
AUTHORITY = "cnil;Autorité;autorité;portail;;https://plaintes.example.org/;3 place B;60;"


def csv(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Institution))


def test_a_valid_file_creates_institutions_and_a_second_import_changes_nothing(app):
    plan = import_institutions(csv(FUND, AUTHORITY), source="t.csv", now=utcnow())
    assert plan.summary() == "2 created, 0 updated, 0 unchanged"
    fund = db.session.scalar(select(Institution).where(Institution.key == "cpam-75"))
    assert fund.kind == InstitutionKind.HOLDER and fund.channel == Channel.EMAIL
    assert fund.postal_address == "1 rue A\n75000 Paris"
    assert fund.answer_days == 30 and fund.departements == "75 92"
    again = import_institutions(csv(FUND, AUTHORITY), source="t.csv", now=utcnow())
    assert again.summary() == "0 created, 0 updated, 2 unchanged"


def test_one_invalid_line_imports_nothing_and_each_error_names_line_and_field(app):
    bad_channel = "a;A;caisse;fax;;;1 rue;;75"
    no_email = "b;B;caisse;courriel;;;1 rue;;75"
    bad_departement = "c;C;caisse;courrier;;;1 rue;;75 999"
    plan = import_institutions(
        csv(FUND, bad_channel, no_email, bad_departement, "cpam-75;X;caisse;courrier;;;1 rue;;"),
        source="t.csv",
        now=utcnow(),
    )
    with force_locale("en"):
        errors = [str(error) for error in plan.errors]
    assert "line 4, field channel: Write courriel, portail or courrier." in errors
    assert "line 5, field email: Required when the channel is courriel." in errors
    assert "line 6, field departements: “999” is not a département code." in errors
    assert "line 7, field key: This key is already on line 2." in errors
    assert count() == 0


def test_the_portal_address_must_be_https(app):
    plan = import_institutions(
        csv("p;P;caisse;portail;;javascript:alert(1);1 rue;;75"), source="t", now=utcnow()
    )
    assert [error.field for error in plan.errors] == ["portal_url"]
    assert count() == 0


def test_a_departement_gets_its_fund_then_the_national_authority(app):
    import_institutions(csv(FUND, AUTHORITY), source="t.csv", now=utcnow())
    assert [row.key for row in institutions_for("92")] == ["cpam-75", "cnil"]
    assert [row.key for row in institutions_for("13")] == ["cnil"]


def test_the_command_lists_errors_and_exits_1(app, tmp_path):
    path = tmp_path / "institutions.csv"
    path.write_bytes(csv(FUND, "x;X;caisse;fax;;;1 rue;;75"))
    result = app.test_cli_runner().invoke(args=["institutions", "import", str(path)])
    assert result.exit_code == 1
    assert "line 4, field channel" in result.output  # the address spans lines 2-3
    assert count() == 0
    path.write_bytes(csv(FUND, AUTHORITY))
    result = app.test_cli_runner().invoke(args=["institutions", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output


def test_the_demo_file_of_fictional_institutions_imports_cleanly(app):
    plan = import_institutions(DEMO_INSTITUTIONS.read_bytes(), source="demo", now=utcnow())
    assert not plan.errors
    assert len(plan.new) == 4
    assert all("example.org" in row.email + row.portal_url or not row.email for row in plan.new)
