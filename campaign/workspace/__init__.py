"""The organiser workspace under /admin: one blueprint, a module per area."""

# Importing the area modules registers their routes on the blueprint.
from campaign.workspace import (  # noqa: F401
    abuse,
    embed,
    exports,
    first_signatories,
    geography,
    imports,
    institutions,
    letters,
    mailings,
    objections,
    officials,
    petitions,
    signatures,
    verification,
    views,
)
from campaign.workspace.blueprint import bp

__all__ = ["bp", "init_app"]


def init_app(app) -> None:
    """Register the workspace (its areas registered their routes on import)."""
    app.register_blueprint(bp)
