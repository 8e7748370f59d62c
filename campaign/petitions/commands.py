"""`flask petitions ...`: the group; domains above add their commands to it (the stored
counts' `recount` belongs to the signatures domain, which keeps them)."""

from __future__ import annotations

from flask.cli import AppGroup

petitions = AppGroup("petitions", help="Petitions: upkeep.")
