"""Sharing a petition: links that load nothing until clicked, and the count of visits each
share source brought (per petition and day, never tied to a person)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote, urlencode

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from campaign.extensions import db
from campaign.petitions.models import PetitionText, ShareCount
from campaign.tokens import external_url

# The source tags a shared link may carry (?s=...), in the order the page offers them. Any
# other value is ignored, so that nobody can fill the table with made-up sources.
SOURCES = (
    "link",
    "share",
    "mail",
    "sms",
    "whatsapp",
    "telegram",
    "bluesky",
    "mastodon",
    "linkedin",
    "facebook",
    "x",
    "qr",
    "poster",
)

# Link previews (the fetchers of chat apps and social sites) are not visits.
PREVIEW_AGENTS = re.compile(
    r"bot|crawl|spider|preview|facebookexternalhit|whatsapp|telegram|slack|discord|"
    r"embedly|mastodon|bluesky|cardyb|linkedin|skype|vkshare|pinterest",
    re.I,
)

# A Mastodon instance as people type it: a host name, optionally with "https://" or "@".
INSTANCE_PATTERN = re.compile(r"^(?:https?://)?@?([a-z0-9-]+(?:\.[a-z0-9-]+)+)/?$", re.I)


@dataclass(frozen=True)
class ShareLink:
    """One way to share: its source tag and the link that opens it (nothing is loaded from
    the other site until the reader clicks)."""

    source: str
    href: str


def petition_url(slug: str, source: str | None = None) -> str:
    """The petition's public address on PUBLIC_URL, with a source tag when given."""
    if source is None:
        return external_url("petitions.show", slug=slug)
    return external_url("petitions.show", slug=slug, s=source)


def share_links(slug: str, title: str) -> list[ShareLink]:
    """The links that share the petition by mail, SMS and the usual networks, each address
    tagged with its source."""

    def url(source: str) -> str:
        return petition_url(slug, source)

    def message(source: str) -> str:
        return f"{title} {url(source)}"

    return [
        ShareLink(
            "mail",
            "mailto:?" + urlencode({"subject": title, "body": message("mail")}, quote_via=quote),
        ),
        ShareLink("sms", "sms:?" + urlencode({"body": message("sms")}, quote_via=quote)),
        ShareLink("whatsapp", "https://wa.me/?" + urlencode({"text": message("whatsapp")})),
        ShareLink(
            "telegram",
            "https://t.me/share/url?" + urlencode({"url": url("telegram"), "text": title}),
        ),
        ShareLink(
            "bluesky", "https://bsky.app/intent/compose?" + urlencode({"text": message("bluesky")})
        ),
        ShareLink(
            "linkedin",
            "https://www.linkedin.com/sharing/share-offsite/?"
            + urlencode({"url": url("linkedin")}),
        ),
        ShareLink(
            "facebook",
            "https://www.facebook.com/sharer/sharer.php?" + urlencode({"u": url("facebook")}),
        ),
        ShareLink("x", "https://x.com/intent/post?" + urlencode({"text": title, "url": url("x")})),
    ]


def mastodon_instance(typed: str) -> str | None:
    """The host name of a Mastodon instance as typed ("mastodon.social", "@piaille.fr",
    "https://mamot.fr/"), or None when it is not one."""
    match = INSTANCE_PATTERN.match((typed or "").strip())
    if match is None or len(match.group(1)) > 253:
        return None
    return match.group(1).lower()


def mastodon_share_link(instance: str, slug: str, title: str) -> str:
    """The instance's own share page, filled with the petition's title and address."""
    text = f"{title} {petition_url(slug, 'mastodon')}"
    return f"https://{instance}/share?" + urlencode({"text": text})


def counted_source(source: str | None, user_agent: str | None) -> str | None:
    """The source tag to count for this visit: a known one, from a reader (not a link
    preview); None otherwise."""
    if source not in SOURCES:
        return None
    if user_agent and PREVIEW_AGENTS.search(user_agent):
        return None
    return source


def record_share_visit(petition_id: int, source: str, day: date) -> None:
    """Count one visit brought by `source` to the petition on `day`, and commit."""
    where = (
        ShareCount.petition_id == petition_id,
        ShareCount.source == source,
        ShareCount.day == day,
    )
    bump = update(ShareCount).where(*where).values(count=ShareCount.count + 1)
    if db.session.execute(bump).rowcount == 0:
        try:
            with db.session.begin_nested():
                db.session.execute(
                    insert(ShareCount).values(
                        petition_id=petition_id, source=source, day=day, count=1
                    )
                )
        except IntegrityError:
            # Another request created the day's row first: count on it.
            db.session.execute(bump)
    db.session.commit()


@dataclass(frozen=True)
class SourceTally:
    """Visits brought by one source: in all, and over the last days."""

    source: str
    total: int
    recent: int


def share_tallies(petition_id: int, since: date) -> list[SourceTally]:
    """The visits each source brought to the petition, in all and since `since`, the most
    fruitful first."""
    recent = func.sum(ShareCount.count).filter(ShareCount.day >= since)
    rows = db.session.execute(
        select(ShareCount.source, func.sum(ShareCount.count), recent)
        .where(ShareCount.petition_id == petition_id)
        .group_by(ShareCount.source)
        .order_by(func.sum(ShareCount.count).desc(), ShareCount.source)
    ).all()
    return [SourceTally(source, int(total), int(last or 0)) for source, total, last in rows]


def page_description(text: PetitionText, length: int = 200) -> str:
    """What link previews show under the title: the summary, or the body's first words
    without Markdown's marks."""
    plain = text.summary or re.sub(r"[#>*_`~\[\]]|\(https?://[^)]*\)", "", text.body or "")
    plain = " ".join(plain.split())
    if len(plain) <= length:
        return plain
    return plain[:length].rsplit(" ", 1)[0].rstrip(",;:.") + "…"
