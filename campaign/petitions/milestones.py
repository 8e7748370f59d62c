"""Goal milestones: the organiser hears when a petition passes 25, 50, 75 and 100 % of its goal."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from campaign.extensions import db
from campaign.mail.outbox import EmailKind, write
from campaign.petitions.models import Petition

MILESTONES = (25, 50, 75, 100)


def milestone_reached(count: int, goal: int) -> int:
    """The highest milestone (in %) that `count` signatures reach, or 0."""
    if goal <= 0:
        return 0
    return max((m for m in MILESTONES if count * 100 >= m * goal), default=0)


def record_goal_milestone(petition: Petition, count: int, now: datetime) -> list[int]:
    """Queue the organiser's email if `count` passes a milestone not announced yet. Atomic:
    two confirmations crossing the same line at once announce it once. The caller commits
    and enqueues."""
    reached = milestone_reached(count, petition.goal)
    if not reached or petition.owner_id is None:
        return []
    claimed = db.session.execute(
        update(Petition)
        .where(Petition.id == petition.id, Petition.milestone_notified < reached)
        .values(milestone_notified=reached)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return []
    return write(
        EmailKind.GOAL_MILESTONE,
        now,
        petition_id=petition.id,
        user_id=petition.owner_id,
        detail=str(reached),
    )
