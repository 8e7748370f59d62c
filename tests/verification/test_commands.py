"""`flask registry import rpps FILE`: counts on success, every bad line on standard error
with exit status 1 and nothing changed, and the signatures re-assessed after a switch."""

from __future__ import annotations

from campaign.extensions import db
from campaign.signatures.models import Signature
from campaign.verification.models import VerificationClaim
from campaign.verification.registries import active_register, look_up_rpps
from tests.factories import make_petition, make_signature
from tests.verification.conftest import extract_line

FONTAINE = "99900000011"
ROUSSEAU = "99900000052"


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["registry", "import", *args])


def test_import_reports_what_it_read_and_re_assesses_the_numbers_given(app, write_extract):
    petition = make_petition()
    signature = make_signature(
        petition, first_name="Camille", last_name="Fontaine", category_key="clinician"
    )
    db.session.add(VerificationClaim(signature_id=signature.id, rpps_number=FONTAINE))
    db.session.commit()
    path = write_extract(
        [
            extract_line(FONTAINE, "FONTAINE", "Camille", site="Centre hospitalier"),
            extract_line(FONTAINE, "FONTAINE", "Camille", site="Cabinet"),
            extract_line("751234567", "DURAND", "Marc", kind="0"),
        ]
    )
    result = cli(app, "rpps", str(path))
    assert result.exit_code == 0, result.stderr
    assert "3 line(s) read, 1 record(s) for 1 professional(s), 1 non-RPPS line(s) skipped" in (
        result.stdout
    )
    assert "1 signature(s) changed level" in result.stdout
    db.session.expire_all()
    assert db.session.get(Signature, signature.id).verification_level == "registry"
    assert active_register().source == path.name


def test_a_bad_file_exits_1_naming_each_line_and_field_and_changes_nothing(app, write_extract):
    cli(app, "rpps", str(write_extract([extract_line(FONTAINE, "FONTAINE", "Camille")])))
    before = active_register().id
    path = write_extract(
        [extract_line(ROUSSEAU, "ROUSSEAU", "Léa"), extract_line("1234", "COURT", "Numéro")]
    )
    result = cli(app, "rpps", str(path))
    assert result.exit_code == 1
    assert "line 3, field 'Identifiant PP': an RPPS number has 11 digits ('1234')" in (
        result.stderr
    )
    assert "nothing imported" in result.stderr
    assert active_register().id == before
    assert not look_up_rpps(ROUSSEAU, "Léa", "Rousseau").found


def test_skip_invalid_imports_the_rest_but_still_exits_1(app, write_extract):
    path = write_extract(
        [extract_line(ROUSSEAU, "ROUSSEAU", "Léa"), extract_line("1234", "COURT", "Numéro")]
    )
    result = cli(app, "rpps", str(path), "--skip-invalid")
    assert result.exit_code == 1 and "register replaced" in result.stdout
    assert look_up_rpps(ROUSSEAU, "Léa", "Rousseau").matched


def test_an_unknown_register_or_a_missing_file_is_a_usage_error(app, tmp_path):
    assert cli(app, "adeli", str(tmp_path / "x.txt")).exit_code == 2
    assert cli(app, "rpps", str(tmp_path / "missing.txt")).exit_code == 2
    assert active_register() is None
