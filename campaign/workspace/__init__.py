"""The organiser workspace under /admin: one blueprint, a module per area."""

from campaign.workspace import views  # noqa: F401  (registers the routes)
from campaign.workspace import abuse  # noqa: F401
from campaign.workspace.blueprint import bp

__all__ = ["bp"]
