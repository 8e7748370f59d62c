"""The retention purge as a job, for the worker to run on a schedule."""

from __future__ import annotations

import logging
from datetime import datetime

from campaign.clock import utcnow
from campaign.privacy.services import PurgeCounts, purge_personal_data

log = logging.getLogger(__name__)


def purge_expired_personal_data(now: datetime | None = None) -> list[PurgeCounts]:
    """Job: apply the retention rules (campaign.privacy.services.purge_personal_data) as of
    `now`, or of the moment it runs. Harmless to run twice: the second run finds nothing.
    Takes no argument when enqueued, since jobs take ids only."""
    report = purge_personal_data(now or utcnow())
    for counts in report:
        log.info("privacy purge, petition %s: %s", counts.petition_id, counts.describe())
    return report
