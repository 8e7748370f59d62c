import json
import stat

import pytest

from campaign.config import MissingSecret, load_config


def test_embedded_default_generates_secrets_once_with_private_permissions(tmp_path, monkeypatch):
    for name in ("DATABASE_URL", "SECRET_KEY", "EMAIL_DIGEST_KEY", "EMAIL_ENCRYPTION_KEY",
                 "IP_HASH_KEY"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    first = load_config(str(tmp_path))
    second = load_config(str(tmp_path))
    path = tmp_path / "secrets.json"
    assert first["SECRET_KEY"] == second["SECRET_KEY"] == json.loads(path.read_text())["SECRET_KEY"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert first["REDIS_URL"] is None and first["MAIL_SERVER"] is None


def test_production_refuses_to_start_without_shared_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://tribune@db/tribune")
    for name in ("SECRET_KEY", "EMAIL_DIGEST_KEY", "EMAIL_ENCRYPTION_KEY", "IP_HASH_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingSecret, match="SECRET_KEY"):
        load_config(str(tmp_path))
    assert not (tmp_path / "secrets.json").exists()


def test_postgres_urls_use_psycopg3(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://tribune@db/tribune")
    for name in ("SECRET_KEY", "EMAIL_DIGEST_KEY", "EMAIL_ENCRYPTION_KEY", "IP_HASH_KEY"):
        monkeypatch.setenv(name, "x")
    config = load_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://tribune@db/tribune"
