"""Background work of verification: re-assessing a category after its rules changed."""

from __future__ import annotations

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.verification.models import DomainRule


def reassess_domain_levels(rule_id: int) -> None:
    """Job: a domain rule was added or removed; assess its category's signatures again.
    Harmless twice: an assessment depends only on the rules and proofs in force."""
    from campaign.verification.services import reassess_category

    rule = db.session.get(DomainRule, rule_id)
    if rule is None:
        return
    reassess_category(rule.category_key, utcnow())
