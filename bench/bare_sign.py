"""The floor of bench/sign.py: the least a Flask sign path can do, served the same way.

A form page with a hidden token, and a POST that validates two fields, encrypts one with
Fernet and inserts one row with SQLAlchemy Core, then answers 303 — what the issue calls "a
bare Flask handler". bench/sign.py serves it with the same gunicorn layout, drives it with
the same client against the same PostgreSQL, and divides Tribune's figures by its figures.
No session, no CSRF check, no proof of work, no anti-abuse checks, no email.

    gunicorn --pythonpath bench bare_sign:app   (DATABASE_URL, EMAIL_ENCRYPTION_KEY)
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask, redirect, request

TABLE_DDL = """
CREATE TABLE IF NOT EXISTS bare_signatures (
    id bigserial PRIMARY KEY,
    first_name varchar(100) NOT NULL,
    email_ciphertext bytea NOT NULL,
    created_at timestamp NOT NULL
)
"""
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Signer</title></head>
<body><form method="post" action="/p/{slug}/sign">
<input name="csrf_token" type="hidden" value="{token}">
<input name="first_name"><input name="email" type="email"><button>Signer</button>
</form></body></html>"""

app = Flask(__name__)
engine = sa.create_engine(os.environ.get("DATABASE_URL", "sqlite://"))
table = sa.Table(
    "bare_signatures",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("first_name", sa.String(100)),
    sa.Column("email_ciphertext", sa.LargeBinary),
    sa.Column("created_at", sa.DateTime),
)
fernet = Fernet(os.environ.get("EMAIL_ENCRYPTION_KEY") or Fernet.generate_key())


@app.get("/p/<slug>")
def page(slug: str):
    return PAGE.format(slug=slug, token=secrets.token_urlsafe(32))


@app.post("/p/<slug>/sign")
def sign(slug: str):
    first_name = request.form.get("first_name", "").strip()
    email = request.form.get("email", "").strip()
    if not 1 <= len(first_name) <= 100 or not EMAIL.fullmatch(email):
        return "invalid", 422
    row = {
        "first_name": first_name,
        "email_ciphertext": fernet.encrypt(email.encode()),
        "created_at": datetime.now(UTC).replace(tzinfo=None),
    }
    with engine.begin() as connection:
        connection.execute(table.insert(), row)
    return redirect(f"/p/{slug}/check-inbox", code=303)
