"""What a letter's template can say, and how a letter addresses an official: the merge
fields of the petition, of one official and of one signatory, as plain data for the sandbox
(campaign.mailings.templates), and the salutations, roles and civilities in each language.

Both the organisers' pages (services, letters) and the sending jobs read it, so it imports
neither of them.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any

from flask import current_app
from flask_babel import force_locale, lazy_pgettext
from flask_babel import lazy_gettext as _l

from campaign.mailings.templates import MergeFields, Unpublished
from campaign.officials.models import Civility, Official, OfficialRole
from campaign.petitions.models import Petition
from campaign.signatures.models import Signature
from campaign.tokens import external_url

ROLE_LABELS = {
    OfficialRole.DEPUTE: _l("Member of the National Assembly"),
    OfficialRole.SENATEUR: _l("Senator"),
    OfficialRole.DEPUTE_EUROPEEN: _l("Member of the European Parliament"),
    OfficialRole.MINISTRE: _l("Minister"),
    OfficialRole.AUTORITE: _l("Regulator"),
    OfficialRole.AUTRE: _l("Official"),
}


# French names these roles in the feminine for a woman; the others are the same for all
# ("ministre"), and English does not change.
FEMININE_ROLE_LABELS = {
    OfficialRole.DEPUTE: lazy_pgettext("woman", "Member of the National Assembly"),
    OfficialRole.SENATEUR: lazy_pgettext("woman", "Senator"),
    OfficialRole.DEPUTE_EUROPEEN: lazy_pgettext("woman", "Member of the European Parliament"),
}
# How a French letter addresses one: "Madame la députée", "Monsieur le sénateur".
FRENCH_TITLES = {
    OfficialRole.DEPUTE: ("la députée", "le député"),
    OfficialRole.SENATEUR: ("la sénatrice", "le sénateur"),
    OfficialRole.DEPUTE_EUROPEEN: ("la députée", "le député"),
    OfficialRole.MINISTRE: ("la ministre", "le ministre"),
}


def role_label(role: str, locale: str, civility: str | None = None) -> str:
    """The official's role in the given language, in the feminine for a Madame where the
    language has one."""
    with force_locale(locale):
        label = (
            FEMININE_ROLE_LABELS.get(role) if civility == Civility.MADAME else None
        ) or ROLE_LABELS.get(role)
        return str(label) if label is not None else role


CIVILITY_WORDS = {
    "fr": {Civility.MADAME: "Madame", Civility.MONSIEUR: "Monsieur"},
    "en": {Civility.MADAME: "Ms", Civility.MONSIEUR: "Mr"},
}


def civility_word(civility: str | None, locale: str) -> str:
    """Madame or Monsieur (Ms, Mr in English); empty when the directory does not say."""
    words = CIVILITY_WORDS.get(locale[:2], CIVILITY_WORDS["en"])
    return words.get(civility, "") if civility else ""


def salutation(official: Official, locale: str) -> str:
    """The opening of a letter to the official, without its comma: "Madame la députée",
    "Monsieur le sénateur", "Madame, Monsieur" when the civility is unknown; in English,
    "Dear Ms Dupont". An authority is addressed as an institution."""
    if official.is_authority:
        return _institution_salutation(official.civility if official.head_named else None, locale)
    word = civility_word(official.civility, locale)
    if not locale.startswith("fr"):
        return f"Dear {word} {official.last_name}" if word else f"Dear {official.full_name}"
    if not word:
        return "Madame, Monsieur"
    titles = FRENCH_TITLES.get(official.role)
    if titles is None:
        return word
    return f"{word} {titles[0] if official.civility == Civility.MADAME else titles[1]}"


def _institution_salutation(civility: str | None, locale: str) -> str:
    """An authority (CNIL, a health insurance fund, a ministry's department) is addressed
    through its head when the directory names them and their civility ("Madame la
    Présidente"), else as an institution ("Madame, Monsieur")."""
    french = locale.startswith("fr")
    if civility == Civility.MADAME:
        return "Madame la Présidente" if french else "Dear Madam President"
    if civility == Civility.MONSIEUR:
        return "Monsieur le Président" if french else "Dear Mr President"
    return "Madame, Monsieur" if french else "Dear Sir or Madam"


def petition_context(petition: Petition) -> dict[str, Any]:
    """Merge fields about the petition, its counts and its latest publication, as plain
    data (before a first publication, `publication` is false and names itself when used)."""
    from campaign.publication.services import latest_publication
    from campaign.signatures.services import counts_by_category, signature_count

    locale = petition.language
    by_category = counts_by_category(petition)
    publication = latest_publication(petition.id)
    return {
        "petition": MergeFields(
            "petition",
            {
                "title": petition.text(locale).title,
                "url": external_url("petitions.show", slug=petition.slug),
                "confirmed": signature_count(petition.id),
                "goal": petition.goal,
            },
        ),
        "categories": [
            MergeFields(
                "category",
                {"key": category.key, "label": category.label(locale), "count": count},
            )
            for category, count in by_category
        ],
        "counts": MergeFields("counts", {category.key: count for category, count in by_category}),
        "publication": Unpublished()
        if publication is None
        else MergeFields(
            "publication",
            {
                "url": external_url(
                    "publication.publication", slug=petition.slug, sequence=publication.sequence
                ),
                "sha256": publication.hash,
                "sequence": publication.sequence,
                "count": publication.entry_count,
            },
        ),
    }


def official_context(official: Official, locale: str) -> MergeFields:
    """Merge fields about one official."""
    return MergeFields(
        "official",
        {
            "name": official.full_name,
            "civility": civility_word(official.civility, locale),
            "salutation": salutation(official, locale),
            "first_name": official.first_name,
            "last_name": official.last_name,
            "role": role_label(official.role, locale, official.civility),
            "chamber": official.chamber,
            "departement": official.departement or "",
            "constituency": official.constituency,
        },
    )


def signatory_context(signature: Signature) -> MergeFields:
    """Merge fields about the signatory an update is written to."""
    return MergeFields(
        "signatory", {"first_name": signature.first_name, "last_name": signature.last_name}
    )


def letter_context(
    base: dict[str, Any],
    locale: str,
    official: Official | None = None,
    signature: Signature | None = None,
) -> dict[str, Any]:
    """The whole context of one letter: the petition's fields plus the recipient's."""
    context = dict(base)
    if official is not None:
        context["official"] = official_context(official, locale)
    if signature is not None:
        context["signatory"] = signatory_context(signature)
    return context


def site_name() -> str:
    """The platform's name, as the display name of its own From address says it."""
    return parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[0] or "Tribune"
