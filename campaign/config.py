"""Configuration: the only module that reads os.environ.

Embedded default: SQLite under instance/, jobs in-process, mail to instance/outbox/,
secrets generated once into instance/secrets.json. Production sets DATABASE_URL, REDIS_URL,
MAIL_* and the secret keys in the environment.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from campaign.settings import SETTINGS

# The checkout: templates, static files, migrations and docs are read from it.
ROOT = Path(__file__).resolve().parent.parent

SECRET_NAMES = ("SECRET_KEY", "EMAIL_DIGEST_KEY", "EMAIL_ENCRYPTION_KEY", "IP_HASH_KEY")


class MissingSecret(RuntimeError):
    """A production deployment did not provide a required secret key."""


def _database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever scheme the operator wrote."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _new_secret(name: str) -> str:
    if name == "EMAIL_ENCRYPTION_KEY":
        return Fernet.generate_key().decode()
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _embedded_secrets(instance_path: Path) -> dict[str, str]:
    """Read the generated secrets, creating the file (mode 0600) on first start."""
    path = instance_path / "secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    missing = [name for name in SECRET_NAMES if name not in stored]
    if missing:
        stored.update({name: _new_secret(name) for name in missing})
        instance_path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle, indent=2)
    return stored


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the configuration: each declared setting from its override, else from the
    environment, else its default; then the fixed settings, the secrets, the other overrides."""
    env = os.environ
    overrides = overrides or {}
    instance = Path(instance_path)
    config: dict[str, Any] = {"INSTANCE": instance}
    for setting in SETTINGS:
        if setting.name in overrides:
            config[setting.name] = overrides[setting.name]
        elif env.get(setting.env, "").strip():
            config[setting.name] = setting.parse(env[setting.env])
        else:
            config[setting.name] = setting.default_for(config)
    del config["INSTANCE"]
    config["SQLALCHEMY_DATABASE_URI"] = _database_url(config["SQLALCHEMY_DATABASE_URI"])
    config["PUBLIC_URL"] = config["PUBLIC_URL"].rstrip("/")
    config.update(_fixed(config["PUBLIC_URL"].startswith("https://")))
    embedded = config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")

    provided = {name: env[name] for name in SECRET_NAMES if env.get(name)}
    provided.update({name: overrides[name] for name in SECRET_NAMES if overrides.get(name)})
    missing = [name for name in SECRET_NAMES if name not in provided]
    if missing and not embedded:
        raise MissingSecret(
            "Set " + ", ".join(missing) + " in the environment (see docs/deploy.md): "
            "every web and worker process must share the same keys."
        )
    if missing:
        provided = {**_embedded_secrets(instance), **provided}
    config.update({name: provided[name] for name in SECRET_NAMES})
    try:
        Fernet(config["EMAIL_ENCRYPTION_KEY"].encode())
    except ValueError as error:
        raise MissingSecret(
            "EMAIL_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64-encoded bytes)"
        ) from error

    config.update(overrides)
    return config


def _fixed(https: bool) -> dict[str, Any]:
    """Settings that are part of the design, not of a deployment."""
    return {
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "RATELIMIT_HEADERS_ENABLED": True,
        # A Redis outage must not refuse signatures: fall back to per-process counters.
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # Languages: French first.
        "LANGUAGES": ("fr", "en"),
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent / "translations"),
        # Cookies: Secure whenever the public site is served over HTTPS.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": https,
        "WTF_CSRF_TIME_LIMIT": None,
        # Pages send Referrer-Policy: no-referrer (tokens live in URLs), so browsers send no
        # Referer and Flask-WTF's HTTPS-only Referer check would refuse every form. The CSRF
        # token and SameSite cookies remain the protection.
        "WTF_CSRF_SSL_STRICT": False,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
    }


def configuration_warnings(config: dict[str, Any]) -> list[str]:
    """Settings that work but are probably wrong for a production deployment."""
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return []
    warnings = []
    if "127.0.0.1" in config["PUBLIC_URL"] or "localhost" in config["PUBLIC_URL"]:
        warnings.append("PUBLIC_URL points to this machine: links in emails will not work")
    if not config["MAIL_SERVER"]:
        warnings.append("MAIL_SERVER is not set: mail is written to OUTBOX_DIR, not sent")
    if not config["REDIS_URL"]:
        warnings.append("REDIS_URL is not set: jobs run inside web requests")
    if config["DEMO"]:
        warnings.append("TRIBUNE_DEMO is on: /dev/outbox shows every email")
    return warnings
