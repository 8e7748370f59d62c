"""The organiser workspace under /admin: one blueprint, a module per area."""

# Importing the area modules registers their routes on the blueprint.
from campaign.workspace import (  # noqa: F401
    abuse,
    exports,
    imports,
    letters,
    mailings,
    officials,
    petitions,
    signatures,
    verification,
    views,
)
from campaign.workspace.blueprint import bp

__all__ = ["bp"]
