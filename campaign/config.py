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

SECRET_NAMES = ("SECRET_KEY", "EMAIL_DIGEST_KEY", "EMAIL_ENCRYPTION_KEY", "IP_HASH_KEY")


class MissingSecret(RuntimeError):
    """A production deployment did not provide a required secret key."""


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


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
    """Build the configuration from the environment, then apply explicit overrides."""
    env = os.environ
    overrides = overrides or {}
    instance = Path(instance_path)
    database_url = _database_url(
        overrides.get("SQLALCHEMY_DATABASE_URI")
        or env.get("DATABASE_URL")
        or f"sqlite:///{instance / 'tribune.db'}"
    )
    redis_url = overrides.get("REDIS_URL", env.get("REDIS_URL") or None)
    public_url = env.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/")
    embedded = database_url.startswith("sqlite")

    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "RQ_QUEUE": env.get("RQ_QUEUE", "tribune"),
        "PUBLIC_URL": public_url,
        "DEMO": _flag(env.get("TRIBUNE_DEMO")),
        # Mail: no MAIL_SERVER means the embedded outbox folder.
        "MAIL_SERVER": env.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USE_TLS": _flag(env.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": _flag(env.get("MAIL_USE_SSL")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER", "Tribune <tribune@localhost>"),
        "MAIL_TIMEOUT": float(env.get("MAIL_TIMEOUT", "15")),
        "OUTBOX_DIR": env.get("OUTBOX_DIR", str(instance / "outbox")),
        "OUTBOX_FLUSH_INTERVAL": int(env.get("OUTBOX_FLUSH_INTERVAL", "60")),
        "OUTBOX_DRAIN_LINGER": float(env.get("OUTBOX_DRAIN_LINGER", "0.5")),
        # Mailings: parallel sending jobs per mailing, how long one job sends before handing
        # over, retries of temporary failures (exponential from the base, in seconds), how
        # long a job may nap waiting for the pace, and when the sweeper calls a send dead
        # (marked unknown, never repeated) or a mailing's jobs lost (woken again).
        "MAILING_LANES": int(env.get("MAILING_LANES", "2")),
        "MAILING_JOB_BUDGET": float(env.get("MAILING_JOB_BUDGET", "60")),
        "MAILING_MAX_ATTEMPTS": int(env.get("MAILING_MAX_ATTEMPTS", "8")),
        "MAILING_RETRY_BASE": float(env.get("MAILING_RETRY_BASE", "60")),
        "MAILING_MAX_NAP": float(env.get("MAILING_MAX_NAP", "10")),
        "MAILING_STALE_AFTER": float(
            env.get(
                "MAILING_STALE_AFTER", str(max(120.0, 6 * float(env.get("MAIL_TIMEOUT", "15"))))
            )
        ),
        "MAILING_STALL_AFTER": float(env.get("MAILING_STALL_AFTER", "30")),
        # Supporters' letters: this many supporters sending the same text flags it for the
        # organiser; how long the "write to your representatives" link works, and its limit.
        "MAILING_DUPLICATE_THRESHOLD": int(env.get("MAILING_DUPLICATE_THRESHOLD", "10")),
        "WRITE_LINK_MAX_AGE": int(env.get("WRITE_LINK_MAX_AGE", str(30 * 86400))),
        "RATELIMIT_WRITE": env.get("RATELIMIT_WRITE", "20 per minute;200 per day"),
        # Unsubscribe links in updates to signatories (RFC 8058 one-click).
        "UNSUBSCRIBE_LINK_MAX_AGE": int(env.get("UNSUBSCRIBE_LINK_MAX_AGE", str(365 * 86400))),
        # Confirmation links and their resends.
        "CONFIRMATION_TOKEN_MAX_AGE": int(env.get("CONFIRMATION_TOKEN_MAX_AGE", str(7 * 86400))),
        # Withdrawal links (in the confirmation email): past this, the signer asks for a
        # fresh link to their data, from which they can withdraw.
        "WITHDRAW_LINK_MAX_AGE": int(env.get("WITHDRAW_LINK_MAX_AGE", str(90 * 86400))),
        "CONFIRMATION_RESEND_INTERVAL": int(env.get("CONFIRMATION_RESEND_INTERVAL", "600")),
        "CONFIRMATION_MAX_SENDS": int(env.get("CONFIRMATION_MAX_SENDS", "5")),
        "CONFIRMATION_DAILY_CAP_PER_ADDRESS": int(
            env.get("CONFIRMATION_DAILY_CAP_PER_ADDRESS", "20")
        ),
        # Flask-Limiter: Redis in production so every web process shares the counters.
        "RATELIMIT_ENABLED": _flag(env.get("RATELIMIT_ENABLED"), default=True),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or redis_url or "memory://",
        # A flood guard (429); ordinary excess is held for review instead (see SUSPECT_*).
        "RATELIMIT_SIGN": env.get("RATELIMIT_SIGN", "30 per minute;300 per hour;1000 per day"),
        "RATELIMIT_RESEND": env.get("RATELIMIT_RESEND", "3 per 10 minutes;10 per day"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # A Redis outage must not refuse signatures: fall back to per-process counters.
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_LOGIN": env.get("RATELIMIT_LOGIN", "10 per minute;30 per hour"),
        "RATELIMIT_LOGIN_ACCOUNT": env.get("RATELIMIT_LOGIN_ACCOUNT", "100 per hour;300 per day"),
        # Above these rates, signatures are held for review (suspect) instead of counted.
        "SUSPECT_SIGNATURES_PER_IP_PER_HOUR": int(
            env.get("SUSPECT_SIGNATURES_PER_IP_PER_HOUR", "20")
        ),
        "SUSPECT_SIGNATURES_PER_DOMAIN_PER_HOUR": int(
            env.get("SUSPECT_SIGNATURES_PER_DOMAIN_PER_HOUR", "300")
        ),
        # Proof of work on public forms (ALTCHA), computed in the browser.
        "ALTCHA_ENABLED": _flag(env.get("ALTCHA_ENABLED"), default=True),
        "ALTCHA_MAX_NUMBER": int(env.get("ALTCHA_MAX_NUMBER", "100000")),
        "ALTCHA_EXPIRY": int(env.get("ALTCHA_EXPIRY", "1200")),
        "TRUSTED_PROXY_COUNT": int(env.get("TRUSTED_PROXY_COUNT", "0")),
        # Workspace accounts: a second factor for every role that can export personal data.
        "REQUIRE_2FA": _flag(env.get("REQUIRE_2FA")),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": public_url.startswith("https://"),
        # Languages: French first.
        "LANGUAGES": ("fr", "en"),
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": env.get("TRIBUNE_TIMEZONE", "Europe/Paris"),
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent / "translations"),
        # Cookies: Secure whenever the public site is served over HTTPS.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": public_url.startswith("https://"),
        "WTF_CSRF_TIME_LIMIT": None,
        # Pages send Referrer-Policy: no-referrer (tokens live in URLs), so browsers send no
        # Referer and Flask-WTF's HTTPS-only Referer check would refuse every form. The CSRF
        # token and SameSite cookies remain the protection.
        "WTF_CSRF_SSL_STRICT": False,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "PRIVACY_CONTACT": env.get("PRIVACY_CONTACT", "dpo@localhost"),
        "PRIVACY_CONTROLLER": env.get("PRIVACY_CONTROLLER", "Tribune"),
        # Privacy notice and register (campaign/privacy, docs/privacy.md).
        "PRIVACY_DPO_CONTACT": env.get("PRIVACY_DPO_CONTACT")
        or env.get("PRIVACY_CONTACT", "dpo@localhost"),
        # Empty: the notice says "self-hosted by the campaign's organiser" in each language.
        "PRIVACY_HOSTING": env.get("PRIVACY_HOSTING", ""),
        "PRIVACY_SUBPROCESSORS": tuple(
            name.strip() for name in env.get("PRIVACY_SUBPROCESSORS", "").split(",") if name.strip()
        ),
        "PRIVACY_RETENTION_DAYS": int(env.get("PRIVACY_RETENTION_DAYS", "183")),
        "PRIVACY_RIGHTS_LINK_MAX_AGE": int(env.get("PRIVACY_RIGHTS_LINK_MAX_AGE", str(7 * 86400))),
        "PRIVACY_RIGHTS_LINK_RATELIMIT": env.get(
            "PRIVACY_RIGHTS_LINK_RATELIMIT", "3 per 10 minutes;10 per day"
        ),
        "PRIVACY_RIGHTS_LINKS_PER_DAY": int(env.get("PRIVACY_RIGHTS_LINKS_PER_DAY", "5")),
    }

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
