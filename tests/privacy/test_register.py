"""`flask privacy register`: the record of processing activities (Art. 30) in Markdown."""

from __future__ import annotations

from campaign.petitions.models import PetitionStatus
from campaign.signatures.models import SignatureStatus
from tests.factories import make_petition, make_signature, make_user

SECTIONS = (
    "# Record of processing activities (GDPR Art. 30)",
    "## Controller and data-protection officer",
    "## Purposes",
    "## Legal basis",
    "## Categories of data subjects",
    "## Categories of personal data",
    "### Per petition",
    "## Recipients",
    "## Transfers outside the European Union",
    "## Retention",
    "## Security measures",
)


def test_register_has_every_section_and_each_petition_with_its_counts(make_app):
    app = make_app(
        PRIVACY_CONTROLLER="Association Données Libres",
        PRIVACY_DPO_CONTACT="dpo@donnees-libres.example",
        PRIVACY_RETENTION_DAYS=90,
    )
    with app.app_context():
        from campaign.petitions.services import ensure_default_categories

        ensure_default_categories()
        make_user("organiser")
        petition = make_petition(title="Souveraineté", status=PetitionStatus.CLOSED)
        make_signature(petition, email="alice@example.fr", first_name="Alice", contact_ok=True)
        make_signature(petition, show_name=False)
        make_signature(petition, status=SignatureStatus.PENDING)
        result = app.test_cli_runner().invoke(args=["privacy", "register", "--language", "en"])
    assert result.exit_code == 0, result.output
    text = result.output
    for section in SECTIONS:
        assert section in text
    assert "Controller: Association Données Libres" in text
    assert "Data-protection officer: dpo@donnees-libres.example" in text
    assert f"#### Souveraineté (en) (`{petition.slug}`, closed)" in text
    assert "pending 1" in text and "confirmed 2" in text
    assert "Published in the public list: 1; agreed to be kept informed: 1" in text
    assert "Clinicians, Researchers" in text
    assert "90 days after a petition ends" in text
    assert "Workspace users: organiser 1" in text
    assert "Sub-processors: none" in text and "Fernet" in text
    assert "alice" not in text.lower()


def test_register_is_written_to_a_file_when_asked(app, tmp_path):
    target = tmp_path / "register.md"
    result = app.test_cli_runner().invoke(args=["privacy", "register", "--output", str(target)])
    assert result.exit_code == 0 and str(target) in result.output
    written = target.read_text(encoding="utf-8")
    assert written.startswith("# ") and "Aucune pétition pour l’instant." in written  # French first
