"""Jobs of the publication domain: they take ids and are harmless when run twice."""

from __future__ import annotations

from campaign.clock import utcnow
from campaign.publication import services


def render_publication_files(publication_id: int) -> None:
    """Render the files of a publication that are not rendered yet (xlsx and pdf bytes,
    digests of the others), so that downloads and the press page find them ready."""
    services.prepare_publication_files(publication_id, utcnow())
