from campaign.signatures.models import SignatureStatus
from tests.factories import make_petition, make_signature


def test_petition_json_gives_counts_goal_and_update_time(client):
    petition = make_petition(goal=500)
    make_signature(petition, category_key="clinician")
    make_signature(petition, category_key="clinician", show_name=False)
    make_signature(petition, category_key="engineer", status=SignatureStatus.PENDING)
    make_signature(petition, category_key="mp", status=SignatureStatus.WITHDRAWN)
    response = client.get(f"/api/v1/petitions/{petition.slug}")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.json
    assert body["count"] == 2 and body["goal"] == 500
    assert body["counts_by_category"]["clinician"] == 2
    assert body["counts_by_category"]["engineer"] == 0
    assert body["counts_by_category"]["mp"] == 0
    assert body["updated_at"].endswith("Z")
    assert body["title"]["fr"] == petition.text("fr").title


def test_json_never_contains_personal_data(client):
    petition = make_petition()
    make_signature(petition, last_name="Martin", email="alice@example.org")
    text = client.get(f"/api/v1/petitions/{petition.slug}").get_data(as_text=True)
    assert "Martin" not in text and "example.org" not in text


def test_unknown_petition_is_a_json_404(client):
    response = client.get("/api/v1/petitions/nope")
    assert response.status_code == 404
    assert response.json["status"] == 404
