"""The vocabulary of verification that signatures store and verification assigns: the
levels, the methods that give them, and the syntax of an RPPS number (checked by the sign
form, looked up in the register by verification). Below both domains, so that neither has to
import the other for it."""

from __future__ import annotations

from enum import StrEnum

from campaign.errors import InvalidRegistryNumber

RPPS_LENGTH = 11


class VerificationLevel(StrEnum):
    """How sure Tribune is that a signatory belongs to the category they chose."""

    # Collected elsewhere (imported as already confirmed) or not confirmed yet.
    NONE = "none"
    # The signer confirmed their address through the emailed link.
    EMAIL = "email"
    # Name and number found in an official register (RPPS). The register is public: anyone
    # can type a listed name and number, so this says what was checked, not who signed, and
    # one number gives it to one signature per petition.
    REGISTRY = "registry"
    # A confirmed address at an official domain of the category.
    DOMAIN = "domain"
    # Matched to the officials directory by name and confirmed official address (one
    # official, one signature per petition).
    ROSTER = "roster"
    # Checked by a moderator, with a recorded reason.
    MODERATOR = "moderator"
    # A first signatory: the organisers who collected the name vouch for it (who and when
    # are on the signature and in the audit log), in place of a confirmed address.
    ATTESTED = "attested"


# A register number is public, an address at an official domain must be confirmed from its
# mailbox: the domain (and the roster, which is an official's own address) rank above it.
RANK = {
    VerificationLevel.NONE: 0,
    VerificationLevel.EMAIL: 1,
    VerificationLevel.REGISTRY: 2,
    VerificationLevel.DOMAIN: 3,
    VerificationLevel.ROSTER: 3,
    VerificationLevel.MODERATOR: 4,
    VerificationLevel.ATTESTED: 1,
}
# What an attestation replaces: a level that proves no more than an address.
ATTESTABLE = frozenset({VerificationLevel.NONE, VerificationLevel.EMAIL})
# Above a confirmed address: what the public list marks as verified.
VERIFIED = frozenset(level for level, rank in RANK.items() if rank >= 2)
# Proofs that keep a signature out of the moderators' queue: the register entry's badge
# (which its first confirmed signature holds) and the roster.
CONCLUSIVE = frozenset({VerificationLevel.REGISTRY, VerificationLevel.ROSTER})


class VerificationMethod(StrEnum):
    """Which check gave a signature its level."""

    CONFIRMATION_LINK = "confirmation_link"
    SIGNING_ADDRESS_DOMAIN = "signing_address_domain"
    PROFESSIONAL_ADDRESS_DOMAIN = "professional_address_domain"
    RPPS = "rpps"
    ROSTER = "roster"
    MODERATOR = "moderator"
    ORGANISERS = "organisers"


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits ends with its Luhn check digit."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def normalise_rpps(text: str) -> str:
    """An RPPS number as typed, without spaces, dots or dashes."""
    return "".join(char for char in text if char not in " .-\u00a0\u202f")


def checked_rpps(text: str) -> str:
    """The 11-digit RPPS number in `text`; raises InvalidRegistryNumber otherwise."""
    number = normalise_rpps(text)
    if len(number) != RPPS_LENGTH or not number.isascii() or not number.isdigit():
        raise InvalidRegistryNumber("an RPPS number has 11 digits")
    if not luhn_valid(number):
        raise InvalidRegistryNumber("the check digit of this RPPS number does not match")
    return number
