"""Which sites may frame a petition's embed (/p/<slug>/embed): its allow-list of origins.

Every other page of Tribune is unframeable (X-Frame-Options: DENY, frame-ancestors 'none');
the embed sends `frame-ancestors` built from this list instead, so that only the sites the
organisers named can show it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from campaign.extensions import db
from campaign.petitions.models import Petition

MAX_ORIGINS = 20
# scheme://host[:port], nothing after it: a CSP source expression that names one origin.
# Hosts are DNS names, IPv4 addresses or localhost; a leading "*." allows the subdomains.
ORIGIN_PATTERN = re.compile(
    r"^(https?)://(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}"
    r"[a-z0-9])?)*)(:[0-9]{1,5})?$"
)


@dataclass(frozen=True)
class EmbedOriginError(ValueError):
    """An entry of the allow-list that is not an origin."""

    entry: str


def parse_embed_origins(text: str) -> list[str]:
    """The origins of an allow-list written one per line (or separated by spaces or commas),
    lower-cased, without duplicates, in their order; `*` alone allows every site. Raises
    EmbedOriginError on the first entry that is not scheme://host[:port] nor `*`."""
    origins: list[str] = []
    for raw in re.split(r"[\s,]+", text or ""):
        entry = raw.strip().lower().rstrip("/")
        if not entry:
            continue
        if entry != "*":
            match = ORIGIN_PATTERN.match(entry)
            if match is None or (match.group(4) and not 0 < int(match.group(4)[1:]) < 65536):
                raise EmbedOriginError(raw.strip())
        if entry not in origins:
            origins.append(entry)
    if len(origins) > MAX_ORIGINS:
        raise EmbedOriginError(origins[MAX_ORIGINS])
    return origins


def frame_ancestors(petition: Petition) -> str:
    """The CSP frame-ancestors source list of the petition's embed: 'none' when no site is
    allowed. The stored list was checked when saved; it is parsed again so that a row edited
    by hand can never inject another directive."""
    try:
        origins = parse_embed_origins(petition.embed_origins)
    except EmbedOriginError:
        origins = []
    return " ".join(origins) if origins else "'none'"


def set_embed_origins(petition: Petition, text: str) -> list[str]:
    """Replace the petition's allow-list with the origins in `text` (one per line) and commit.
    Raises EmbedOriginError, changing nothing, when an entry is not an origin."""
    origins = parse_embed_origins(text)
    petition.embed_origins = "\n".join(origins)
    db.session.commit()
    return origins
