"""What other domains read of the signatures, with the rules written once.

The signatures domain owns its table: publication, privacy and the rest ask here (or the
stored counts in counts.py) instead of spelling out which rows are counted, published or
contactable. Each function returns a statement to refine or a plain value.
"""

from __future__ import annotations

from sqlalchemy import Select, case, func, select
from sqlalchemy.sql import ColumnElement

from campaign.extensions import db
from campaign.signatures.models import Signature

# The public list's columns: what a press file may print of a published signature.
PUBLIC_COLUMNS = (
    Signature.id,
    Signature.sort_last,
    Signature.sort_first,
    Signature.last_name,
    Signature.first_name,
    Signature.title,
    Signature.organisation,
    Signature.show_title,
    Signature.show_organisation,
    Signature.category_key,
    Signature.confirmed_at,
    Signature.created_at,
    Signature.verification_level,
    Signature.verified_profession,
)


def of_petition(petition_id: int, *rules: ColumnElement[bool]) -> Select:
    """The petition's signatures (whole rows) meeting `rules`."""
    return select(Signature).where(Signature.petition_id == petition_id, *rules)


def counted(petition_id: int) -> Select:
    """The petition's counted signatures (confirmed, Signature.counted)."""
    return of_petition(petition_id, Signature.counted)


def published(petition_id: int) -> Select:
    """The petition's published signatures (counted, name shown: Signature.published)."""
    return of_petition(petition_id, Signature.published)


def published_columns(petition_id: int) -> Select:
    """The public columns (PUBLIC_COLUMNS) of the petition's published signatures, by id."""
    return (
        select(*PUBLIC_COLUMNS)
        .where(Signature.petition_id == petition_id, Signature.published)
        .order_by(Signature.id)
    )


def published_count(petition_id: int) -> int:
    """Confirmed signatures whose name is published."""
    return db.session.scalar(
        select(func.count(Signature.id)).where(
            Signature.petition_id == petition_id, Signature.published
        )
    )


def published_first_signatory_ids(petition_id: int, order: tuple) -> Select:
    """The ids of the petition's published first signatories, in `order`."""
    return (
        select(Signature.id)
        .where(
            Signature.petition_id == petition_id,
            Signature.published,
            Signature.first_signatory.is_(True),
        )
        .order_by(*order)
    )


def contactable_conditions(petition_id: int) -> tuple[ColumnElement[bool], ...]:
    """Counted signatures whose signer agreed to be kept informed: the contact export."""
    return (
        Signature.petition_id == petition_id,
        Signature.counted,
        Signature.contact_ok.is_(True),
    )


def contactable(petition_id: int) -> Select:
    """The contact export's signatures, in French alphabetical order."""
    return (
        select(Signature)
        .where(*contactable_conditions(petition_id))
        .order_by(Signature.sort_last, Signature.sort_first, Signature.id)
    )


def contactable_count(petition_id: int) -> int:
    """How many signers the contact export holds."""
    return db.session.scalar(
        select(func.count(Signature.id)).where(*contactable_conditions(petition_id))
    )


def tallies_by_petition_and_status() -> Select:
    """Per petition and status: signatures, published ones, those who agreed to contact, and
    those whose address is still kept (the record of processing)."""
    return select(
        Signature.petition_id,
        Signature.status,
        func.count(Signature.id),
        func.sum(case((Signature.published, 1), else_=0)),
        func.sum(case((Signature.contact_ok.is_(True), 1), else_=0)),
        func.sum(case((Signature.email_ciphertext.is_not(None), 1), else_=0)),
    ).group_by(Signature.petition_id, Signature.status)
