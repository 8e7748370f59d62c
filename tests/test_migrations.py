"""The Alembic migrations create exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from campaign.extensions import db


def test_migrations_match_the_models(app):
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == [], "run `flask db migrate` and review the revision"


def _insert_row(connection, table: str, **values) -> None:
    """A row with `values` and a plain value in every other NOT NULL column (raw SQL: the
    models already describe the newer schema)."""
    from sqlalchemy import text

    plain = {"INTEGER": 1, "BOOLEAN": 0, "DATETIME": "2026-01-01 00:00:00", "BLOB": b"x"}
    columns = connection.execute(text(f"PRAGMA table_info({table})")).all()
    row = {
        name: plain.get(kind.split("(")[0], "x")
        for _cid, name, kind, notnull, default, primary in columns
        if notnull and default is None and not primary
    }
    row.update(values)
    names = ", ".join(row)
    marks = ", ".join(f":{name}" for name in row)
    connection.execute(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), row)


def test_rebuilding_the_signatures_table_on_sqlite_keeps_every_referencing_row(
    base_config, tmp_path
):
    """Migration 40a033485774 rebuilds `signatures` on SQLite (AUTOINCREMENT): with foreign
    keys on, dropping the old table would cascade-delete its outbox rows, consent records..."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from campaign import create_app

    url = f"sqlite:///{tmp_path / 'upgraded.db'}"
    app = create_app({**base_config, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(revision="97392997d778")
        with db.engine.begin() as connection:
            _insert_row(connection, "categories", key="citizen")
            _insert_row(connection, "petitions", id=1, slug="p")
            _insert_row(connection, "signatures", id=7, petition_id=1, category_key="citizen")
            _insert_row(connection, "outbox_messages", id=1, signature_id=7, kind="x")
        upgrade()
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT signature_id FROM outbox_messages")).all() == [
                (7,)
            ]
            [key] = connection.execute(text("SELECT link_key FROM signatures")).scalars()
            schema = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'signatures'")
            ).scalar_one()
        db.engine.dispose()
    assert len(key) == 32
    assert "AUTOINCREMENT" in schema


def test_existing_register_badges_go_to_the_first_confirmed_signature_per_number(
    base_config, tmp_path
):
    """Migration 5d9f407c33e6: per petition and RPPS number, the first confirmed signature
    keeps the register level and takes the badge; a later one goes back to the email level."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from campaign import create_app
    from campaign.personal_data import register_badge_digest

    url = f"sqlite:///{tmp_path / 'badges.db'}"
    app = create_app({**base_config, "SQLALCHEMY_DATABASE_URI": url})
    registry = {"verification_level": "registry", "verification_method": "rpps",
                "verified_profession": "Médecin", "status": "confirmed"}  # fmt: skip
    with app.app_context():
        upgrade(revision="40a033485774")
        with db.engine.begin() as connection:
            _insert_row(connection, "categories", key="clinician")
            _insert_row(connection, "petitions", id=1, slug="p")
            # Signature 8 was confirmed first.
            for signature_id, month in ((7, "02"), (8, "01")):
                _insert_row(
                    connection,
                    "signatures",
                    id=signature_id,
                    petition_id=1,
                    category_key="clinician",
                    confirmed_at=f"2026-{month}-01 10:00:00",
                    **registry,
                )
                _insert_row(
                    connection,
                    "verification_claims",
                    signature_id=signature_id,
                    rpps_number="99900000011",
                )
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT id, verification_level, verified_profession, register_badge"
                    " FROM signatures ORDER BY id"
                )
            ).all()
        badge = register_badge_digest("rpps", "99900000011")
        db.engine.dispose()
    assert [tuple(row) for row in rows] == [
        (7, "email", None, None),
        (8, "registry", "Médecin", badge),
    ]


def test_stored_counts_are_backfilled_from_the_counted_signatures(base_config, tmp_path):
    """Migration 1d7dd79bede0: the counts per category and level, and per département, are
    what COUNT gave: confirmed signatures only, a département only when one was given."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from campaign import create_app

    url = f"sqlite:///{tmp_path / 'counts.db'}"
    app = create_app({**base_config, "SQLALCHEMY_DATABASE_URI": url})
    signatures = [
        # id, petition, status, category, level, département
        (1, 1, "confirmed", "citizen", "email", "75"),
        (2, 1, "confirmed", "citizen", "email", "75"),
        (3, 1, "confirmed", "clinician", "registry", None),
        (4, 1, "pending", "citizen", "none", "75"),
        (5, 1, "hidden", "citizen", "email", "13"),
        (6, 1, "withdrawn", "clinician", "none", None),
        (7, 2, "confirmed", "citizen", "none", "13"),
        (8, 2, "invalidated", "citizen", "none", "13"),
    ]
    with app.app_context():
        upgrade(revision="5cb34a199231")
        with db.engine.begin() as connection:
            for key in ("citizen", "clinician"):
                _insert_row(connection, "categories", key=key)
            for petition_id in (1, 2, 3):
                _insert_row(connection, "petitions", id=petition_id, slug=f"p{petition_id}")
            for signature_id, petition_id, status, category, level, departement in signatures:
                _insert_row(
                    connection,
                    "signatures",
                    id=signature_id,
                    petition_id=petition_id,
                    status=status,
                    category_key=category,
                    verification_level=level,
                    departement=departement,
                    email_digest=f"digest{signature_id}",
                )
        upgrade()
        with db.engine.connect() as connection:
            levels = connection.execute(
                text(
                    "SELECT petition_id, category_key, verification_level, count"
                    " FROM petition_counts ORDER BY 1, 2, 3"
                )
            ).all()
            departements = connection.execute(
                text(
                    "SELECT petition_id, departement, count"
                    " FROM petition_departement_counts ORDER BY 1, 2"
                )
            ).all()
        db.engine.dispose()
    assert [tuple(row) for row in levels] == [
        (1, "citizen", "email", 2),
        (1, "clinician", "registry", 1),
        (2, "citizen", "none", 1),
    ]
    assert [tuple(row) for row in departements] == [(1, "75", 2), (2, "13", 1)]


def test_authorities_become_their_own_kind_and_letters_tick_them(base_config, tmp_path):
    """Migration 560d2ce7abac: officials whose role is "autorite" become authorities, and a
    letter that selected them by role ticks them instead, without selecting more people."""
    import json

    from flask_migrate import upgrade
    from sqlalchemy import text

    from campaign import create_app

    url = f"sqlite:///{tmp_path / 'kinds.db'}"
    app = create_app({**base_config, "SQLALCHEMY_DATABASE_URI": url})
    official = {"active": 1, "chamber": "", "departement": None}
    with app.app_context():
        upgrade(revision="5cb34a199231")
        with db.engine.begin() as connection:
            _insert_row(connection, "petitions", id=1, slug="p")
            _insert_row(connection, "officials", **official | {"id": 1, "role": "depute",
                        "email": "a@x", "departement": "75"})  # fmt: skip
            _insert_row(connection, "officials", **official | {"id": 2, "role": "autorite",
                        "email": "b@x", "chamber": "CPAM", "departement": "75"})  # fmt: skip
            _insert_row(connection, "officials", **official | {"id": 3, "role": "autorite",
                        "email": "c@x", "chamber": "CNIL"})  # fmt: skip
            selections = {
                1: {"roles": ["autorite"], "chambers": [], "departements": ["75"],
                    "official_ids": []},
                2: {"roles": ["depute", "autorite"], "chambers": [], "departements": [],
                    "official_ids": [3]},
                3: {"roles": ["depute"], "chambers": [], "departements": ["75"],
                    "official_ids": [1]},
            }  # fmt: skip
            for mailing_id, selection in selections.items():
                _insert_row(connection, "mailings", id=mailing_id, petition_id=1, kind="letter",
                            selection=json.dumps(selection))  # fmt: skip
        upgrade()
        with db.engine.connect() as connection:
            kinds = connection.execute(text("SELECT id, kind FROM officials ORDER BY id")).all()
            stored = {
                row.id: json.loads(row.selection)
                for row in connection.execute(text("SELECT id, selection FROM mailings"))
            }
        db.engine.dispose()
    assert [tuple(row) for row in kinds] == [(1, "person"), (2, "authority"), (3, "authority")]
    assert stored[1] == {"roles": [], "chambers": [], "departements": [], "official_ids": [],
                         "authority_ids": [2]}  # fmt: skip
    assert stored[2] == {"roles": ["depute"], "chambers": [], "departements": [],
                         "official_ids": [], "authority_ids": [2, 3]}  # fmt: skip
    assert stored[3] == selections[3]
