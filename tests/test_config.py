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


def test_an_invalid_encryption_key_is_refused_at_start(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("EMAIL_ENCRYPTION_KEY", "not-a-fernet-key")
    with pytest.raises(MissingSecret, match="Fernet"):
        load_config(str(tmp_path))


def test_production_settings_that_look_wrong_are_reported(tmp_path, monkeypatch):
    from campaign.config import configuration_warnings

    monkeypatch.setenv("DATABASE_URL", "postgresql://tribune@db/tribune")
    for name in ("SECRET_KEY", "EMAIL_DIGEST_KEY", "IP_HASH_KEY"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("EMAIL_ENCRYPTION_KEY", "A" * 43 + "=")
    for name in ("PUBLIC_URL", "MAIL_SERVER", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    warnings = " ".join(configuration_warnings(load_config(str(tmp_path))))
    assert "PUBLIC_URL" in warnings and "MAIL_SERVER" in warnings and "REDIS_URL" in warnings


def test_postgres_urls_use_psycopg3(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://tribune@db/tribune")
    for name in ("SECRET_KEY", "EMAIL_DIGEST_KEY", "IP_HASH_KEY"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("EMAIL_ENCRYPTION_KEY", "A" * 43 + "=")
    config = load_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://tribune@db/tribune"


def test_a_value_of_the_wrong_type_stops_the_start_naming_the_variable(tmp_path, monkeypatch):
    from campaign.settings import SettingError

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("MAIL_PORT", "twenty-five")
    with pytest.raises(SettingError, match="MAIL_PORT must be a whole number, not 'twenty-five'"):
        load_config(str(tmp_path))
    monkeypatch.setenv("MAIL_PORT", "587")
    monkeypatch.setenv("MAIL_USE_TLS", "maybe")
    with pytest.raises(SettingError, match="MAIL_USE_TLS must be 1, true, yes or on"):
        load_config(str(tmp_path))


def test_empty_means_the_default_and_defaults_follow_the_settings_they_derive_from(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("MAIL_PORT", "")
    monkeypatch.setenv("MAIL_TIMEOUT", "30")
    monkeypatch.setenv("PRIVACY_CONTACT", "rgpd@example.org")
    monkeypatch.delenv("PRIVACY_DPO_CONTACT", raising=False)
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    config = load_config(str(tmp_path), {"REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert config["MAIL_PORT"] == 25
    assert config["MAILING_STALE_AFTER"] == 180.0
    assert config["PRIVACY_DPO_CONTACT"] == "rgpd@example.org"
    assert config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"
    assert config["OUTBOX_DIR"] == str(tmp_path / "outbox")


def test_the_settings_page_of_the_docs_is_generated_from_the_declarations():
    from pathlib import Path

    from campaign.settings import settings_markdown

    page = Path(__file__).parent.parent / "docs" / "settings.md"
    assert page.read_text() == settings_markdown(), "run `make settings-doc`"
