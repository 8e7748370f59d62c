"""Verified categories: domain rules, the level of each signature (computed when it is
confirmed, and again when new proof arrives), the professional address, the moderators'
queue, and the counts per level. Signing is never blocked by verification."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from cryptography.fernet import InvalidToken
from flask import current_app
from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from campaign.audit import record
from campaign.clock import utcnow
from campaign.errors import DomainError
from campaign.extensions import db
from campaign.jobs import enqueue
from campaign.levels import (
    ATTESTABLE,
    CONCLUSIVE,
    VERIFIED,
    VerificationLevel,
    VerificationMethod,
    checked_rpps,
)
from campaign.mail.outbox import EmailKind, deliver_soon, write
from campaign.personal_data import (
    decrypt_email,
    email_digest,
    encrypt_email,
    register_badge_digest,
)
from campaign.petitions.models import Category, Petition
from campaign.signatures import counts
from campaign.signatures.counts import change_counted_fields
from campaign.signatures.events import public_list_changed
from campaign.signatures.models import COUNTED, Signature, SignatureStatus
from campaign.signatures.services import insert_if_new
from campaign.text_rules import is_email_address
from campaign.tokens import row_from_token
from campaign.verification.models import (
    DomainRule,
    ProfessionalAddress,
    RegistryName,
    ReviewDecision,
    VerificationClaim,
)
from campaign.verification.registries import RegisterAnswer, look_up_rpps, roster_official_id

# Categories checked against a register, and those matched to the officials directory.
REGISTRY_CATEGORIES = {"clinician": RegistryName.RPPS}
ROSTER_CATEGORIES = frozenset({"mp"})
# Confirmation emails to professional addresses, per signature, all addresses together.
PROFESSIONAL_ADDRESS_MAX_EMAILS = 5
# Where a signer may add a professional address: their signature counts, or will.
ADDRESS_STATUSES = frozenset({SignatureStatus.CONFIRMED, SignatureStatus.SUSPECT})
# A register entry's badge belongs to a signature in the count (or held for review): hidden,
# invalidated or withdrawn, it lets the badge go, and another claimant gets it only by a
# new assessment (a moderator's decision, a restore, a register import), never silently.
BADGE_STATUSES = frozenset({SignatureStatus.CONFIRMED, SignatureStatus.SUSPECT})
QUEUE_PER_PAGE = 50
LABEL = re.compile(r"^[a-z0-9*](?:[a-z0-9*-]{0,61}[a-z0-9*])?$")


class DomainRuleInvalid(DomainError):
    """A domain rule that is not a domain name or a pattern narrow enough."""


class ProfessionalAddressRefused(DomainError):
    """A professional address that cannot be added; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureNotInPetition(DomainError):
    """No signature with this id in this petition."""


# --- Domain rules ----------------------------------------------------------------------------


def normalise_pattern(text: str) -> str:
    """'@CHU-*.fr.' -> 'chu-*.fr'; raises DomainRuleInvalid for anything that is not a domain
    name, with `*` standing for letters, digits or hyphens inside one label."""
    pattern = text.strip().lower().lstrip("@").rstrip(".")
    pattern = pattern.removeprefix("*.")
    labels = pattern.split(".")
    if len(pattern) > 253 or len(labels) < 2 or not all(LABEL.match(label) for label in labels):
        raise DomainRuleInvalid(text)
    if "*" in labels[-1] or not any(label.strip("*-") for label in labels[:-1]):
        # "*.fr" or "*-*.org" would take in a whole top-level domain.
        raise DomainRuleInvalid(text)
    return pattern


@lru_cache(maxsize=512)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    body = "".join("[a-z0-9-]*" if char == "*" else re.escape(char) for char in pattern)
    return re.compile(rf"(?:[a-z0-9-]+\.)*{body}")


def domain_matches(domain: str, pattern: str) -> bool:
    """Whether an address's domain is the rule's domain, matches its pattern, or is a
    subdomain of either: 'chu-lyon.fr' and 'dsi.chu-lyon.fr' match 'chu-*.fr'."""
    return _pattern_regex(pattern).fullmatch(domain.strip().lower().rstrip(".")) is not None


def address_domain(address: str) -> str:
    """The part of an address after its @, lower case."""
    return address.rpartition("@")[2].strip().lower().rstrip(".")


def domain_rules(
    category_key: str | None = None, petition_id: int | None = None
) -> list[DomainRule]:
    """The rules in force on a petition (the site's and its own), or the site's alone
    without one; by category then pattern."""
    owner = DomainRule.petition_id.is_(None)
    if petition_id is not None:
        owner = or_(owner, DomainRule.petition_id == petition_id)
    query = select(DomainRule).where(DomainRule.removed_at.is_(None), owner)
    if category_key is not None:
        query = query.where(DomainRule.category_key == category_key)
    return list(db.session.scalars(query.order_by(DomainRule.category_key, DomainRule.pattern)))


def petition_domain_rules(petition_id: int) -> list[DomainRule]:
    """The rules a petition's organisers added for it alone, by category then pattern."""
    return list(
        db.session.scalars(
            select(DomainRule)
            .where(DomainRule.removed_at.is_(None), DomainRule.petition_id == petition_id)
            .order_by(DomainRule.category_key, DomainRule.pattern)
        )
    )


def matching_rule(address: str, rules: list[DomainRule]) -> DomainRule | None:
    """The first rule whose domain the address is at."""
    domain = address_domain(address)
    return next((rule for rule in rules if domain_matches(domain, rule.pattern)), None)


def add_domain_rule(
    category_key: str, pattern: str, actor, now: datetime, petition: Petition | None = None
) -> DomainRule:
    """Add (or bring back) a rule, audit it, and re-assess the category's signatures: of
    every petition for a site rule, of `petition` alone for one of its own (a category it
    offers). `actor` is the workspace account, or None for the demo."""
    if petition is None:
        if db.session.get(Category, category_key) is None:
            raise DomainRuleInvalid(category_key)
    elif category_key not in {category.key for category in petition.categories}:
        raise DomainRuleInvalid(category_key)
    petition_id = petition.id if petition is not None else None
    pattern = normalise_pattern(pattern)
    owner = (
        DomainRule.petition_id.is_(None)
        if petition_id is None
        else DomainRule.petition_id == petition_id
    )
    rule = db.session.scalar(
        select(DomainRule).where(
            owner, DomainRule.category_key == category_key, DomainRule.pattern == pattern
        )
    )
    if rule is None:
        rule = DomainRule(
            petition_id=petition_id,
            category_key=category_key,
            pattern=pattern,
            created_at=now,
            created_by_id=getattr(actor, "id", None),
        )
        db.session.add(rule)
    elif rule.removed_at is None:
        return rule
    rule.removed_at = None
    db.session.flush()
    record(
        "domain rule added",
        now,
        actor=actor,
        petition_id=petition_id,
        detail=f"{category_key}: {pattern}",
    )
    db.session.commit()
    enqueue(reassess_domain_levels, rule.id)
    return rule


def remove_domain_rule(
    rule_id: int, actor, now: datetime, petition: Petition | None = None
) -> bool:
    """Remove a site rule, or with `petition` one of that petition's own rules (never
    another's: False then, and nothing changes); its row stays, marked removed, and its
    category is re-assessed."""
    rule = db.session.get(DomainRule, rule_id)
    petition_id = petition.id if petition is not None else None
    if rule is None or rule.removed_at is not None or rule.petition_id != petition_id:
        return False
    rule.removed_at = now
    record(
        "domain rule removed",
        now,
        actor=actor,
        petition_id=petition_id,
        detail=f"{rule.category_key}: {rule.pattern}",
    )
    db.session.commit()
    enqueue(reassess_domain_levels, rule.id)
    return True


# Categories whose members have nothing to prove: the sign form asks them for no evidence.
NO_EVIDENCE_CATEGORIES = frozenset({"citizen"})


def sign_form_verification_fields(category_keys: list[str]) -> tuple[list[str], list[str]]:
    """Of these categories, those the sign form asks an RPPS number of, and those it asks
    evidence of (the form shows each field only for them, when JavaScript runs)."""
    rpps = [key for key in category_keys if key in REGISTRY_CATEGORIES]
    evidence = [key for key in category_keys if key not in NO_EVIDENCE_CATEGORIES]
    return rpps, evidence


def verified_categories(petition_id: int | None = None) -> frozenset[str]:
    """Categories a signer can be verified in: with a register, the roster, or a rule in
    force (the site's, and the petition's own when given)."""
    owner = DomainRule.petition_id.is_(None)
    if petition_id is not None:
        owner = or_(owner, DomainRule.petition_id == petition_id)
    with_rules = db.session.scalars(
        select(DomainRule.category_key).where(DomainRule.removed_at.is_(None), owner).distinct()
    )
    return frozenset(REGISTRY_CATEGORIES) | ROSTER_CATEGORIES | frozenset(with_rules)


# --- The level of a signature ----------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """A signature's level, the check that gave it, the profession a register names, and
    the register entry (keyed digest) whose badge it would hold."""

    level: VerificationLevel
    method: VerificationMethod | None = None
    profession: str | None = None
    badge: str | None = None


def _readable(ciphertext: bytes | None) -> str | None:
    """A stored address, decrypted in memory to match rules; None if unreadable."""
    if not ciphertext:
        return None
    try:
        return decrypt_email(ciphertext)
    except InvalidToken:
        return None


def _automatic(
    signature: Signature,
    claim: VerificationClaim | None,
    professional: str | None,
    badge_taken: bool = False,
) -> Assessment:
    """The best level the roster, the domain rules and the registers give a signature whose
    address is confirmed. A register entry (an RPPS number, an official of the directory)
    counts only for the signature holding its badge: with `badge_taken`, it counts for none."""
    signing = _readable(signature.email_ciphertext)
    category = signature.category_key
    registry = None
    if category in REGISTRY_CATEGORIES and claim is not None and claim.rpps_number:
        answer = look_up_rpps(claim.rpps_number, signature.first_name, signature.last_name)
        if answer.matched and not badge_taken:
            badge = register_badge_digest(RegistryName.RPPS, claim.rpps_number)
            registry = Assessment(
                VerificationLevel.REGISTRY, VerificationMethod.RPPS, answer.profession, badge
            )
    if category in ROSTER_CATEGORIES and not badge_taken:
        addresses = [address for address in (signing, professional) if address]
        official_id = roster_official_id(addresses, signature.first_name, signature.last_name)
        if official_id is not None:
            badge = register_badge_digest("roster", str(official_id))
            return Assessment(VerificationLevel.ROSTER, VerificationMethod.ROSTER, badge=badge)
    # An address at an official domain ranks above the (public) register: it keeps the
    # register's profession and badge when it has them.
    profession = registry.profession if registry else None
    badge = registry.badge if registry else None
    rules = domain_rules(category, signature.petition_id)
    if rules and signing and matching_rule(signing, rules):
        method = VerificationMethod.SIGNING_ADDRESS_DOMAIN
        return Assessment(VerificationLevel.DOMAIN, method, profession, badge)
    if rules and professional and matching_rule(professional, rules):
        method = VerificationMethod.PROFESSIONAL_ADDRESS_DOMAIN
        return Assessment(VerificationLevel.DOMAIN, method, profession, badge)
    if registry is not None:
        return registry
    return Assessment(VerificationLevel.EMAIL, VerificationMethod.CONFIRMATION_LINK)


def assess(
    signature: Signature,
    claim: VerificationClaim | None,
    professional: ProfessionalAddress | None,
    badge_taken: bool = False,
) -> Assessment:
    """The level a signature has now. A moderator's decision prevails: approved is the
    moderator level, rejected is at most a confirmed address. Otherwise, with the signing
    address confirmed, the strongest automatic proof; without, no level."""
    confirmed = signature.address_confirmed_at is not None
    decision = claim.decision if claim is not None else None
    if decision == ReviewDecision.REJECTED:
        if confirmed:
            return Assessment(VerificationLevel.EMAIL, VerificationMethod.CONFIRMATION_LINK)
        return Assessment(VerificationLevel.NONE)
    automatic = Assessment(VerificationLevel.NONE)
    if confirmed:
        second = None
        if professional is not None and professional.confirmed_at is not None:
            second = _readable(professional.email_ciphertext)
        automatic = _automatic(signature, claim, second, badge_taken)
    if decision == ReviewDecision.APPROVED:
        return Assessment(
            VerificationLevel.MODERATOR,
            VerificationMethod.MODERATOR,
            automatic.profession,
            automatic.badge,
        )
    return automatic


def _professional(signature_id: int) -> ProfessionalAddress | None:
    return db.session.scalar(
        select(ProfessionalAddress)
        .where(ProfessionalAddress.signature_id == signature_id)
        .execution_options(populate_existing=True)
    )


def _take_badge(signature: Signature, badge: str) -> bool:
    """Give the register entry's badge to this signature, unless another signature of the
    petition holds it. A guarded update, with the unique index on (petition, badge) as the
    last word: SQLite runs writers one after the other, so the guard sees the first one's
    badge; on PostgreSQL the second of two confirmations at once waits on the index for the
    first, then fails inside a savepoint that leaves its own transaction intact."""
    holder = aliased(Signature)
    guarded = (
        update(Signature)
        .where(
            Signature.id == signature.id,
            ~select(holder.id)
            .where(holder.petition_id == signature.petition_id, holder.register_badge == badge)
            .exists(),
        )
        .values(register_badge=badge)
        .execution_options(synchronize_session=False)
    )
    if db.session.get_bind().dialect.name != "postgresql":
        taken = db.session.execute(guarded).rowcount == 1
    else:
        try:
            with db.session.begin_nested():
                taken = db.session.execute(guarded).rowcount == 1
        except IntegrityError:
            taken = False
    if taken:
        set_committed_value(signature, "register_badge", badge)
    return taken


def with_attestation(signature: Signature, assessment: Assessment) -> Assessment:
    """The level, once the organisers' attestation of a first signatory is counted: it
    stands in for an unconfirmed or merely confirmed address, never for a stronger proof."""
    if signature.attested_at is not None and assessment.level in ATTESTABLE:
        return Assessment(VerificationLevel.ATTESTED, VerificationMethod.ORGANISERS)
    return assessment


def _apply(signature: Signature, assessment: Assessment, now: datetime) -> bool:
    """Record the assessment on the signature; True when something changed."""
    if signature.register_badge != assessment.badge:
        # Released: the number no longer matches, or a moderator rejected the claim.
        signature.register_badge = assessment.badge
    assessment = with_attestation(signature, assessment)
    new = (assessment.level, assessment.method, assessment.profession)
    old = (
        signature.verification_level,
        signature.verification_method,
        signature.verified_profession,
    )
    if new == old:
        return False
    if signature.verification_level != assessment.level:
        # With the petition's counts, in one guarded UPDATE; the loaded object is told.
        change_counted_fields(db.session, signature.id, verification_level=assessment.level)
        set_committed_value(signature, "verification_level", assessment.level)
    signature.verification_method = assessment.method
    signature.verified_profession = assessment.profession
    if signature.status in COUNTED:
        # The public list changed: what last_change_at() (the API's updated_at) reads.
        signature.status_changed_at = now
    return True


def _settled(
    signature: Signature, claim: VerificationClaim | None, professional: ProfessionalAddress | None
) -> Assessment:
    """The assessment, once the register entry's badge is taken or found taken: one entry,
    one badge per petition; the first confirmed signature keeps it, and a later one is
    assessed without it (and so waits in the moderators' queue)."""
    if signature.status not in BADGE_STATUSES:
        return assess(signature, claim, professional, badge_taken=True)
    assessment = assess(signature, claim, professional)
    if assessment.badge is None or assessment.badge == signature.register_badge:
        return assessment
    if _take_badge(signature, assessment.badge):
        return assessment
    return assess(signature, claim, professional, badge_taken=True)


def reassess_signature(signature_id: int, now: datetime) -> Signature | None:
    """Compute a signature's level again from what is known now (in the caller's
    transaction); None for an unknown or withdrawn signature."""
    signature = db.session.get(Signature, signature_id, populate_existing=True)
    if signature is None or signature.status == SignatureStatus.WITHDRAWN:
        return None
    claim = db.session.get(VerificationClaim, signature_id)
    _apply(signature, _settled(signature, claim, _professional(signature_id)), now)
    return signature


def assess_at_confirmation(signature_id: int, now: datetime) -> None:
    """The signer just followed the emailed link: their address is confirmed; compute the
    level (domain rules, RPPS, roster). In the confirmation's transaction."""
    signature = db.session.get(Signature, signature_id, populate_existing=True)
    if signature is None:
        return
    if signature.address_confirmed_at is None:
        signature.address_confirmed_at = now
    reassess_signature(signature_id, now)
    db.session.flush()


def _announce(petition_ids: set[int], now: datetime) -> None:
    """After the commit: tell the publication domain which public lists changed (a level is
    printed in the press files, and counted in each publication's header)."""
    for petition_id in sorted(petition_ids):
        public_list_changed.send(petition_id, now=now)


def _reassess_all(signature_ids: list[int], now: datetime) -> int:
    changed = 0
    for start in range(0, len(signature_ids), 500):
        petitions: set[int] = set()
        for signature_id in signature_ids[start : start + 500]:
            before = db.session.scalar(
                select(Signature.verification_level).where(Signature.id == signature_id)
            )
            signature = reassess_signature(signature_id, now)
            if signature is not None and signature.verification_level != before:
                changed += 1
                if signature.counted:
                    petitions.add(signature.petition_id)
        db.session.commit()
        _announce(petitions, now)
    return changed


def reassess_domain_levels(rule_id: int) -> None:
    """Job: a domain rule was added or removed; assess its category's signatures again (of
    its petition only, for a petition's own rule). Harmless twice: an assessment depends
    only on the rules and proofs in force."""
    rule = db.session.get(DomainRule, rule_id)
    if rule is None:
        return
    reassess_category(rule.category_key, utcnow(), rule.petition_id)


def reassess_category(category_key: str, now: datetime, petition_id: int | None = None) -> int:
    """After a rule changed: every confirmed address of the category (of one petition, when
    given) at the email, register or domain level, assessed again. Returns how many changed
    level."""
    query = select(Signature.id).where(
        Signature.category_key == category_key,
        Signature.status != SignatureStatus.WITHDRAWN,
        Signature.address_confirmed_at.is_not(None),
        Signature.verification_level.in_(
            [VerificationLevel.EMAIL, VerificationLevel.REGISTRY, VerificationLevel.DOMAIN]
        ),
    )
    if petition_id is not None:
        query = query.where(Signature.petition_id == petition_id)
    ids = db.session.scalars(query.order_by(Signature.id)).all()
    return _reassess_all(list(ids), now)


def reassess_registry_claims(now: datetime) -> int:
    """After a register import: every signature that gave an RPPS number, assessed again
    (found now, or struck off), the first confirmed first: it takes a number's badge before
    the later ones. Returns how many changed level."""
    ids = db.session.scalars(
        select(Signature.id)
        .join(VerificationClaim, VerificationClaim.signature_id == Signature.id)
        .where(
            VerificationClaim.rpps_number.is_not(None),
            Signature.status != SignatureStatus.WITHDRAWN,
        )
        .order_by(Signature.confirmed_at.is_(None), Signature.confirmed_at, Signature.id)
    ).all()
    return _reassess_all(list(ids), now)


# --- At signing -------------------------------------------------------------------------------


def claim_at_signing(
    signature_id: int, category_key: str, rpps_number: str, evidence: str, now: datetime
) -> VerificationClaim | None:
    """What the signer offered with their signature: an RPPS number (health professionals;
    raises InvalidRegistryNumber if malformed) and evidence for moderators. None if nothing."""
    number = None
    if rpps_number.strip() and category_key in REGISTRY_CATEGORIES:
        number = checked_rpps(rpps_number)
    evidence = " ".join(evidence.split())[:300] or None
    if number is None and evidence is None:
        return None
    return VerificationClaim(
        signature_id=signature_id, rpps_number=number, evidence=evidence, created_at=now
    )


# --- The professional address ---------------------------------------------------------------


def request_professional_address(signature_id: int, address: str, now: datetime) -> None:
    """Keep a second, professional address (encrypted, with its digest) and email it a
    confirmation link; it replaces any earlier one. Raises ProfessionalAddressRefused."""
    signature = db.session.get(Signature, signature_id)
    if signature is None or signature.status not in ADDRESS_STATUSES:
        raise ProfessionalAddressRefused("not_confirmed")
    address = address.strip()
    if not is_email_address(address):
        raise ProfessionalAddressRefused("invalid")
    digest = email_digest(address)
    if digest == signature.email_digest:
        raise ProfessionalAddressRefused("same_address")
    claim = db.session.get(VerificationClaim, signature_id)
    if claim is None:
        claim = VerificationClaim(signature_id=signature_id, address_emails_sent=0, created_at=now)
        db.session.add(claim)
    if claim.address_emails_sent >= PROFESSIONAL_ADDRESS_MAX_EMAILS:
        db.session.rollback()
        raise ProfessionalAddressRefused("too_many")
    replaced = db.session.execute(
        delete(ProfessionalAddress).where(ProfessionalAddress.signature_id == signature_id)
    ).rowcount
    db.session.add(
        ProfessionalAddress(
            signature_id=signature_id,
            email_digest=digest,
            email_ciphertext=encrypt_email(address),
            created_at=now,
        )
    )
    claim.address_emails_sent += 1
    db.session.flush()
    if replaced:
        reassess_signature(signature_id, now)
    outbox_ids = write(EmailKind.PROFESSIONAL_ADDRESS, now, signature_id=signature_id)
    db.session.commit()
    deliver_soon(*outbox_ids)


def professional_address_from_token(token: str, now: datetime) -> ProfessionalAddress:
    """The address a confirmation link is about. Raises TokenInvalid, or TokenExpired."""
    max_age = current_app.config["CONFIRMATION_TOKEN_MAX_AGE"]
    return row_from_token("verify_address", token, now, max_age, ProfessionalAddress)


def confirm_professional_address(address_id: int, now: datetime) -> Signature | None:
    """The signer followed the link sent to their professional address: confirm it, and
    assess their signature again. Harmless twice; None if the address is gone."""
    confirmed = db.session.execute(
        update(ProfessionalAddress)
        .where(ProfessionalAddress.id == address_id, ProfessionalAddress.confirmed_at.is_(None))
        .values(confirmed_at=now)
    )
    signature_id = db.session.scalar(
        select(ProfessionalAddress.signature_id).where(ProfessionalAddress.id == address_id)
    )
    if signature_id is None:
        db.session.rollback()
        return None
    before = db.session.scalar(
        select(Signature.verification_level).where(Signature.id == signature_id)
    )
    signature = reassess_signature(signature_id, now) if confirmed.rowcount else None
    db.session.commit()
    if signature is not None and signature.counted and signature.verification_level != before:
        _announce({signature.petition_id}, now)
    return signature or db.session.get(Signature, signature_id)


# --- What a signer sees -----------------------------------------------------------------------


class RegisterState(StrEnum):
    """What the register said of the number a signer gave, as their page tells it."""

    # Name and number found: this signature holds the number's badge in its petition.
    BADGE = "badge"
    # Name and number found, but another signature of the petition holds the badge.
    TAKEN = "taken"
    # Not found under these names (or no register imported yet).
    UNMATCHED = "unmatched"


@dataclass(frozen=True)
class SignerVerification:
    """The verification part of a signer's confirmation page."""

    level: VerificationLevel
    method: VerificationMethod | None
    profession: str | None
    category_verifiable: bool
    register: RegisterState | None
    professional_pending: bool
    professional_confirmed: bool
    decision: ReviewDecision | None

    @property
    def rpps_given(self) -> bool:
        """Whether the signer gave an RPPS number."""
        return self.register is not None

    @property
    def verified(self) -> bool:
        """Whether the public list marks the signature (a register badge or better)."""
        return self.level in VERIFIED

    @property
    def can_add_address(self) -> bool:
        """Whether adding a professional address could still raise the level: a register
        badge says only that a name and a public number were found, an address at an
        official domain says more."""
        return (
            self.category_verifiable
            and self.level not in (VerificationLevel.ROSTER, VerificationLevel.MODERATOR)
            and self.decision is None
        )


def _register_state(signature: Signature, claim: VerificationClaim | None) -> RegisterState | None:
    if claim is None or not claim.rpps_number:
        return None
    if signature.register_badge is not None:
        return RegisterState.BADGE
    answer = look_up_rpps(claim.rpps_number, signature.first_name, signature.last_name)
    return RegisterState.TAKEN if answer.matched else RegisterState.UNMATCHED


def signer_verification(signature: Signature) -> SignerVerification:
    """Where a signature stands, for its signer."""
    claim = db.session.get(VerificationClaim, signature.id)
    professional = _professional(signature.id)
    return SignerVerification(
        level=VerificationLevel(signature.verification_level),
        method=signature.verification_method,
        profession=signature.verified_profession,
        category_verifiable=signature.category_key in verified_categories(signature.petition_id),
        register=_register_state(signature, claim),
        professional_pending=professional is not None and professional.confirmed_at is None,
        professional_confirmed=professional is not None and professional.confirmed_at is not None,
        decision=claim.decision if claim is not None else None,
    )


def verification_fields(signature_id: int) -> dict[str, object]:
    """What verification keeps about a signature, for its signer's data page."""
    claim = db.session.get(VerificationClaim, signature_id)
    professional = _professional(signature_id)
    return {
        "rpps_number": claim.rpps_number if claim else None,
        "verification_evidence": claim.evidence if claim else None,
        "verification_decision": str(claim.decision) if claim and claim.decision else None,
        "verification_reason": claim.reason if claim else None,
        "professional_email": _readable(professional.email_ciphertext) if professional else None,
        "professional_email_confirmed_at": professional.confirmed_at if professional else None,
    }


_CLAIM_COLUMNS = ["signature_id", "rpps_number", "evidence", "address_emails_sent", "created_at"]
_INSERT_CLAIM = insert_if_new(VerificationClaim.__table__, _CLAIM_COLUMNS)


def record_claim_at_signing(
    signature_id: int,
    *,
    category_key: str,
    rpps_number: str,
    evidence: str,
    now: datetime,
    is_new: bool = True,
) -> None:
    """claim_at_signing(), added to the signing transaction (signatures/events.py's
    signing signal). The same statement runs whether the signature is new or an address
    signing again (`is_new` False: it writes nothing), so that its cost tells nothing."""
    claim = claim_at_signing(signature_id, category_key, rpps_number, evidence, now)
    if claim is not None:
        row = {name: getattr(claim, name) for name in _CLAIM_COLUMNS}
        row.update(address_emails_sent=0, is_new=is_new)
        db.session.execute(_INSERT_CLAIM, row)


def erase_verification_data(signature_id: int) -> None:
    """On withdrawal: the professional address, the RPPS number and the badge it gave, the
    evidence and the moderator's note go (in the caller's transaction)."""
    db.session.execute(
        delete(ProfessionalAddress).where(ProfessionalAddress.signature_id == signature_id)
    )
    db.session.execute(
        delete(VerificationClaim).where(VerificationClaim.signature_id == signature_id)
    )
    # The badge's digest names the register entry: it goes with the number.
    db.session.execute(
        update(Signature)
        .where(Signature.id == signature_id)
        .values(register_badge=None)
        .execution_options(synchronize_session=False)
    )


def erase_petition_verification_data(petition_id: int) -> tuple[int, int]:
    """At the end of retention: the petition's professional addresses are deleted, and the
    RPPS numbers (with their badges) and the evidence and notes of its claims erased.
    Returns (addresses, claims)."""
    ids = select(Signature.id).where(Signature.petition_id == petition_id).scalar_subquery()
    addresses = db.session.execute(
        delete(ProfessionalAddress).where(ProfessionalAddress.signature_id.in_(ids))
    ).rowcount
    claims = db.session.execute(
        update(VerificationClaim)
        .where(
            VerificationClaim.signature_id.in_(ids),
            or_(
                VerificationClaim.rpps_number.is_not(None),
                VerificationClaim.evidence.is_not(None),
                VerificationClaim.reason.is_not(None),
            ),
        )
        .values(rpps_number=None, evidence=None, reason=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.execute(
        update(Signature)
        .where(Signature.petition_id == petition_id, Signature.register_badge.is_not(None))
        .values(register_badge=None)
        .execution_options(synchronize_session=False)
    )
    return addresses, claims


# --- Counts -----------------------------------------------------------------------------------


def level_counts(petition_id: int) -> dict[str, dict[str, int]]:
    """Counted signatures per category key and level (the stored counts)."""
    return counts.by_category_and_level(petition_id)


@dataclass(frozen=True)
class CategoryTally:
    """A category's counted signatures, and how many of them each verified level holds."""

    category: Category
    total: int
    verified: list[tuple[VerificationLevel, int]]


def category_tallies(
    petition: Petition, counts: dict[str, dict[str, int]] | None = None
) -> list[CategoryTally]:
    """Per category in the petition's order, zeros included: total, then verified levels
    from the strongest (from `counts`, level_counts's answer, when the caller has it)."""
    if counts is None:
        counts = level_counts(petition.id)
    order = [VerificationLevel.MODERATOR, VerificationLevel.ROSTER, VerificationLevel.DOMAIN,
             VerificationLevel.REGISTRY]  # fmt: skip
    tallies = []
    for category in petition.categories:
        levels = counts.get(category.key, {})
        verified = [(level, levels[level]) for level in order if levels.get(level)]
        tallies.append(CategoryTally(category, sum(levels.values()), verified))
    return tallies


# --- The moderators' queue --------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    """A signature to check, with the evidence its signer gave."""

    signature: Signature
    claim: VerificationClaim | None
    register: RegisterAnswer | None
    professional_confirmed: bool


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    page: int
    pages: int
    total: int


def _queue_conditions(petition_id: int) -> list:
    undecided = or_(VerificationClaim.signature_id.is_(None), VerificationClaim.decision.is_(None))
    return [
        Signature.petition_id == petition_id,
        Signature.counted,
        Signature.category_key.in_(sorted(verified_categories(petition_id))),
        Signature.verification_level.not_in([*CONCLUSIVE, VerificationLevel.MODERATOR]),
        undecided,
    ]


def _item(signature: Signature, claim: VerificationClaim | None) -> QueueItem:
    register = None
    if claim is not None and claim.rpps_number:
        register = look_up_rpps(claim.rpps_number, signature.first_name, signature.last_name)
    professional = _professional(signature.id)
    return QueueItem(
        signature=signature,
        claim=claim,
        register=register,
        professional_confirmed=professional is not None and professional.confirmed_at is not None,
    )


def verification_queue(petition: Petition, page: int = 1) -> QueuePage:
    """Counted signatures claiming a verified category without conclusive proof and not
    decided yet: those with evidence first, then the oldest confirmed."""
    conditions = _queue_conditions(petition.id)
    base = select(Signature, VerificationClaim).outerjoin(
        VerificationClaim, VerificationClaim.signature_id == Signature.id
    )
    total = db.session.scalar(
        select(func.count())
        .select_from(Signature)
        .outerjoin(VerificationClaim, VerificationClaim.signature_id == Signature.id)
        .where(*conditions)
    )
    pages = max(1, math.ceil(total / QUEUE_PER_PAGE))
    page = min(max(1, page), pages)
    with_evidence = or_(
        VerificationClaim.rpps_number.is_not(None), VerificationClaim.evidence.is_not(None)
    )
    rows = db.session.execute(
        base.where(*conditions)
        .order_by(case((with_evidence, 0), else_=1), Signature.confirmed_at, Signature.id)
        .offset((page - 1) * QUEUE_PER_PAGE)
        .limit(QUEUE_PER_PAGE)
    ).all()
    return QueuePage([_item(s, c) for s, c in rows], page, pages, total)


def review_item(petition: Petition, signature_id: int) -> QueueItem:
    """One signature of the petition with its evidence; raises SignatureNotInPetition."""
    signature = db.session.scalar(
        select(Signature).where(Signature.id == signature_id, Signature.petition_id == petition.id)
    )
    if signature is None or signature.status == SignatureStatus.WITHDRAWN:
        raise SignatureNotInPetition(signature_id)
    return _item(signature, db.session.get(VerificationClaim, signature_id))


def decide_verification(
    petition: Petition,
    signature_id: int,
    decision: ReviewDecision,
    reason: str,
    actor,
    now: datetime,
) -> Assessment:
    """A moderator's decision with its reason: approved gives the moderator level;
    rejected keeps the signature, lowers its level to at most a confirmed address, and the
    signer is told why by email. Audited; returns the new level."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValueError("a reason is required")
    item = review_item(petition, signature_id)
    signature = item.signature
    claim = item.claim
    if claim is None:
        claim = VerificationClaim(signature_id=signature_id, address_emails_sent=0, created_at=now)
        db.session.add(claim)
    before = signature.verification_level
    claim.decision = decision
    claim.reason = reason[:300]
    claim.reviewed_by_id = actor.id
    claim.reviewed_at = now
    db.session.flush()
    assessment = _settled(signature, claim, _professional(signature_id))
    changed = _apply(signature, assessment, now) and signature.counted
    record(
        f"verification {decision}",
        now,
        actor=actor,
        petition_id=petition.id,
        detail=f"signature {signature_id}: {before} -> {assessment.level}",
        count=1,
    )
    outbox_ids = []
    if decision == ReviewDecision.REJECTED and signature.email_ciphertext:
        outbox_ids = write(EmailKind.VERIFICATION_REJECTED, now, signature_id=signature_id)
    db.session.commit()
    if changed:
        _announce({petition.id}, now)
    deliver_soon(*outbox_ids)
    return assessment
