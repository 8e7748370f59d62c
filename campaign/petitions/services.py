"""Finding petitions and rendering their texts."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import select

from campaign.extensions import db
from campaign.petitions.models import PUBLIC, Category, Petition, PetitionStatus

# The shared set of categories: key, French label, English label, position.
DEFAULT_CATEGORIES = [
    ("clinician", "Soignantes et soignants", "Clinicians", 10),
    ("researcher", "Chercheuses et chercheurs", "Researchers", 20),
    ("engineer", "Ingénieures et ingénieurs", "Engineers", 30),
    ("mp", "Parlementaires", "Members of parliament", 40),
    ("organisation", "Organisations", "Organisations", 50),
    ("citizen", "Citoyennes et citoyens", "Citizens", 60),
]

# CommonMark without raw HTML; nh3 then keeps only harmless tags, whatever the parser does.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
ALLOWED_TAGS = {
    "p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "h2", "h3", "h4",
    "code", "pre", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


def render_markdown(text: str) -> Markup:
    """Markdown to sanitised HTML, safe to insert in a page."""
    html = _markdown.render(text)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # noqa: S704 - sanitised by nh3 just above


def find_petition(petition_id: int) -> Petition | None:
    """A petition by id, whatever its state."""
    return db.session.get(Petition, petition_id)


def find_public_petition(slug: str) -> Petition | None:
    """A petition visitors may see (not a draft), by slug."""
    return db.session.scalar(
        select(Petition).where(Petition.slug == slug, Petition.status.in_(PUBLIC))
    )


def open_petitions() -> list[Petition]:
    """Petitions currently shown as open, newest first."""
    query = select(Petition).where(Petition.status == PetitionStatus.OPEN)
    return list(db.session.scalars(query.order_by(Petition.created_at.desc())))


def ensure_default_categories() -> None:
    """Create the shared categories that do not exist yet."""
    existing = set(db.session.scalars(select(Category.key)))
    for key, label_fr, label_en, position in DEFAULT_CATEGORIES:
        if key not in existing:
            db.session.add(Category(key=key, label_fr=label_fr, label_en=label_en,
                                    position=position))  # fmt: skip
    db.session.flush()
