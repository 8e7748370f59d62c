"""Tribune: tribune-petitions and mail campaigns."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from importlib import import_module
from pathlib import Path
from typing import Any

from flask import Flask, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from campaign.config import ROOT

# The domains, each a package whose init_app registers its models, blueprint, commands and
# emails; in this order (the public site's pages, the workspace and the API read the others).
DOMAINS = (
    "pages",
    "accounts",
    "petitions",
    "signatures",
    "officials",
    "verification",
    "mailings",
    "publication",
    "privacy",
    "objections",
    "site",
    "workspace",
    "api",
)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints, errors, commands."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    from campaign.config import configuration_warnings, load_config

    app.config.from_mapping(load_config(app.instance_path, config))
    _configure_logging(app)
    for warning in configuration_warnings(app.config):
        app.logger.warning("configuration: %s", warning)
    if app.config["TRUSTED_PROXY_COUNT"]:
        count = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)

    _keep_sqlite_file_private(app.config["SQLALCHEMY_DATABASE_URI"], Path(app.instance_path))
    _init_extensions(app)
    _configure_templates(app)
    _init_platform(app)
    for name in DOMAINS:
        import_module(f"campaign.{name}").init_app(app)
    from campaign.errors import register_error_handlers

    register_error_handlers(app)
    _register_response_headers(app)
    return app


def _keep_sqlite_file_private(url: str, instance: Path) -> None:
    """The embedded default's database holds personal data: create its file readable by
    Tribune's user only (SQLite gives its -wal and -shm files the same mode), and tighten
    one made earlier with the default umask."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url[len(prefix) :] in ("", ":memory:"):
        return
    # Relative to the instance folder, as Flask-SQLAlchemy reads it.
    path = instance / url[len(prefix) :].split("?", 1)[0]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Never open an existing database file: closing any descriptor of it drops every
        # POSIX lock this process's SQLite connections hold on it (a second app in one
        # process, as in the tests), and another process may then reset the WAL under them.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError:
        return  # SQLite will say what is wrong with the file


def _configure_logging(app: Flask) -> None:
    from campaign.tokens import RedactTokenPaths

    if not app.debug and not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # Link tokens stay out of the logs: the development server's request log (werkzeug),
    # the app's own ("Exception on /s/<token>"), and whatever reaches the root handlers.
    for logger in (logging.getLogger("werkzeug"), app.logger):
        if not any(isinstance(f, RedactTokenPaths) for f in logger.filters):
            logger.addFilter(RedactTokenPaths())
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactTokenPaths) for f in handler.filters):
            handler.addFilter(RedactTokenPaths())


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(connection: object, _record: object) -> None:
    """SQLite: enforce foreign keys, and let concurrent writers wait instead of failing."""
    if isinstance(connection, sqlite3.Connection):
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()


def _init_extensions(app: Flask) -> None:
    from campaign.accounts.services import load_session_user
    from campaign.extensions import babel, csrf, db, limiter, login_manager, mail, migrate
    from campaign.web.language import select_locale

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    mail.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.user_loader(load_session_user)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"


def _init_platform(app: Flask) -> None:
    """What serves every domain: the outbox, the audit log, abuse resistance, the worker,
    and the platform's commands."""
    import campaign.abuse
    import campaign.audit
    import campaign.mail.outbox  # noqa: F401 (their tables, for Alembic and relationships)
    from campaign import commands

    commands.init_app(app)


def _configure_templates(app: Flask) -> None:
    from flask_babel import get_locale

    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
    from campaign.abuse import widget_strings

    app.jinja_env.globals["altcha_strings"] = widget_strings


def _register_response_headers(app: Flask) -> None:
    from flask_babel import get_locale

    from campaign.web.framing import is_frameable

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'",
        )
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if not is_frameable(response):
            headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config["PUBLIC_URL"].startswith("https://"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.blueprint != "api" and response.mimetype == "text/html":
            headers.setdefault("Content-Language", str(get_locale()))
            headers.add("Vary", "Accept-Language, Cookie")
        return response
