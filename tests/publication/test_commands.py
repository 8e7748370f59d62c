"""`flask publication ...` and docs/verify_publication.py: a journalist's download verifies
without the server, and a changed or removed line does not."""

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.publication.merkle import canonical_json, sha256_hex
from campaign.publication.services import latest_publication, publish_snapshot, receipt_for
from campaign.signatures.models import Signature
from campaign.signatures.services import withdraw_signature
from tests.factories import make_petition, make_signature
from tests.publication.lists import txt_list

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "verify_publication.py"


@pytest.fixture
def petition(app):
    petition = make_petition(slug="verif")
    for last, first in [("Martin", "Alice"), ("Le Bouter", "Yves"), ("Leblond", "Anne")]:
        make_signature(petition, last_name=last, first_name=first, title="Médecin",
                       show_title=True)  # fmt: skip
    return petition


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["publication", *args])


def standalone(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True,
                          text=True, check=False)  # fmt: skip


def download(client, tmp_path, name="signatories.json", url="/p/verif/signatories.json") -> Path:
    path = tmp_path / name
    path.write_bytes(client.get(url).get_data())
    return path


def test_publish_then_export_writes_the_bytes_the_site_serves(app, client, petition, tmp_path):
    result = cli(app, "publish", "--petition", "verif")
    assert result.exit_code == 0 and "verif #1: 3 entries" in result.output
    for fmt in ("txt", "csv", "json", "xlsx", "pdf"):
        target = tmp_path / f"out.{fmt}"
        result = cli(app, "export", "--petition", "verif", "--format", fmt, "--output", str(target))
        assert result.exit_code == 0, result.output
        assert target.read_bytes() == client.get(f"/p/verif/signatories.{fmt}").get_data(), fmt
    excel = tmp_path / "excel.csv"
    cli(app, "export", "--petition", "verif", "--format", "csv", "--variant", "excel",
        "--output", str(excel))  # fmt: skip
    assert excel.read_bytes() == client.get("/p/verif/signatories.csv?variant=excel").get_data()
    assert excel.read_bytes().startswith('\ufeff"Liste arrêtée le '.encode())
    assert excel.read_bytes().decode().split("\r\n")[1].startswith('"Nom";"Pr')
    grouped = tmp_path / "grouped.txt"
    cli(app, "export", "--petition", "verif", "--format", "txt", "--group", "category",
        "--output", str(grouped))  # fmt: skip
    assert txt_list(grouped.read_text()).startswith(
        "Citoyennes et citoyens\n\nLe Bouter Yves, Médecin\n"
    )


def test_a_real_download_verifies_with_the_cli_and_the_standalone_script(
    app, client, petition, tmp_path
):
    path = download(client, tmp_path)
    result = cli(app, "verify", str(path))
    assert result.exit_code == 0 and "OK" in result.output
    checked = standalone(path)
    assert checked.returncode == 0 and checked.stdout.startswith("OK: verif #1, 3 entries")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda text: text.replace('"last_name":"Martin"', '"last_name":"Martine"'),
        lambda text: text.replace('"title":"Médecin"', '"title":"Ministre"', 1),
        lambda text: "\n".join(
            line for line in text.split("\n") if '"last_name":"Leblond"' not in line
        ).replace("},\n]", "}\n]"),
    ],
    ids=["changed-name", "changed-title", "removed-line"],
)
def test_a_changed_or_removed_line_fails_verification(app, client, petition, tmp_path, tamper):
    path = download(client, tmp_path)
    original = path.read_text(encoding="utf-8")
    tampered = tamper(original)
    assert tampered != original
    json.loads(tampered)
    path.write_text(tampered, encoding="utf-8")
    result = cli(app, "verify", str(path))
    assert result.exit_code == 1 and "altered" in result.output
    checked = standalone(path)
    assert checked.returncode == 1 and "altered" in checked.stdout


def test_a_rewritten_history_breaks_the_chain(app, client, petition, tmp_path):
    publish_snapshot(petition, utcnow() - timedelta(days=2))
    make_signature(petition, last_name="Zola", first_name="Émile")
    publish_snapshot(petition, utcnow())
    path = download(client, tmp_path)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["chain"][0]["entries"] = 2
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert cli(app, "verify", str(path)).exit_code == 1
    checked = standalone(path)
    assert checked.returncode == 1 and "chain is broken" in checked.stdout


def test_a_later_publication_must_chain_to_an_earlier_download(app, client, petition, tmp_path):
    earlier = download(client, tmp_path, "first.json")
    leaving = make_signature(petition, last_name="Partante")
    publish_snapshot(petition, utcnow() + timedelta(days=1))
    withdraw_signature(leaving.id, utcnow())
    later = download(client, tmp_path, "latest.json")
    assert json.loads(later.read_text())["publication"]["sequence"] == 3
    assert cli(app, "verify", str(earlier), str(later)).exit_code == 0
    # A forger can recompute every hash of a new history, but it does not reach the
    # publication the journalist downloaded earlier.
    forged = json.loads(later.read_text())
    forged["chain"] = []
    forged["publication"].update(previous=None, sequence=1, published_at="2030-01-01T00:00:00Z")
    forged["hash"] = sha256_hex(canonical_json(forged["publication"]))
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    assert cli(app, "verify", str(tmp_path / "forged.json")).exit_code == 0
    result = cli(app, "verify", str(earlier), str(tmp_path / "forged.json"))
    assert result.exit_code == 1 and "two different publications #1" in result.output


def test_an_inclusion_proof_verifies_offline(app, client, petition, tmp_path):
    client.get("/p/verif/press")
    signature = db.session.scalars(select(Signature).filter_by(last_name="Leblond")).one()
    proof = tmp_path / "proof.json"
    proof.write_bytes(client.get(f"/p/verif/proof.json?receipt={receipt_for(signature)}").data)
    assert cli(app, "verify", str(proof)).exit_code == 0
    document = json.loads(proof.read_text())
    document["index"] = (document["index"] + 1) % 3
    proof.write_text(json.dumps(document))
    assert cli(app, "verify", str(proof)).exit_code == 1


def test_publish_due_publishes_petitions_whose_list_changed(app, petition):
    result = cli(app, "publish-due")
    assert result.exit_code == 0 and "publication #1: 3 entries" in result.output
    assert cli(app, "publish-due").output == ""
    assert latest_publication(petition.id).sequence == 1


def test_export_of_an_unknown_petition_fails_clearly(app):
    result = cli(app, "export", "--petition", "nulle", "--format", "csv")
    assert result.exit_code != 0 and "no public petition" in result.output
