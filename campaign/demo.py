"""The demo petition and its fictional signatories (Faker fr_FR), loaded idempotently."""

from __future__ import annotations

import random
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from faker import Faker
from sqlalchemy import select

from campaign.accounts.models import Role, User
from campaign.accounts.services import assign_moderator, create_user, find_user_by_email
from campaign.config import ROOT
from campaign.extensions import db
from campaign.levels import VerificationLevel, VerificationMethod
from campaign.mailings.models import Mailing, MailingKind
from campaign.mailings.services import MailingFields, create_mailing, start_mailing
from campaign.objections.institutions import import_institutions
from campaign.objections.models import EventKind, Institution, InstitutionKind, ObjectionEvent
from campaign.objections.services import objection_letter_of, set_objection_letter
from campaign.officials.services import import_officials
from campaign.personal_data import email_digest, encrypt_email
from campaign.petitions.models import Petition, PetitionCategory, PetitionStatus, PetitionText
from campaign.petitions.services import DEFAULT_CATEGORIES, ensure_default_categories
from campaign.signatures.counts import count_new_signatures, recount_petition
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import sort_key
from campaign.verification.models import VerificationClaim

DEMO_SLUG = "donnees-de-sante-souveraines"
# Demo accounts, shown in the README: for trying Tribune locally, never for production.
DEMO_PASSWORD = "tribune-demo-2026"  # noqa: S105 - documented demo password
DEMO_USERS = [
    ("admin@example.org", Role.ADMIN),
    ("organisatrice@example.org", Role.ORGANISER),
    ("moderateur@example.org", Role.MODERATOR),
]

TITLE_FR = "Nos données de santé doivent rester sous notre juridiction"
SUMMARY_FR = (
    "Soignants, chercheurs, ingénieurs et citoyens demandent que les données de santé des "
    "Français soient hébergées et traitées hors de portée des lois extraterritoriales."
)
BODY_FR = """\
Les données de santé disent tout de nous : nos maladies, nos traitements, nos fragilités.
Elles sont confiées aux soignants sous le sceau du secret médical. Elles ne peuvent pas
devenir une matière première exposée aux lois d'un autre pays.

Or une part croissante de ces données est hébergée par des entreprises soumises à des
législations **extraterritoriales**, qui permettent à des autorités étrangères d'y accéder
sans que les patients en soient informés, ni que nos juridictions puissent s'y opposer.

## Ce que nous demandons

1. Que toute base nationale de données de santé soit hébergée par un opérateur qui
   n'est soumis qu'au droit européen, avec un calendrier de migration public.
2. Que les établissements de santé disposent des moyens et des compétences pour choisir
   des solutions souveraines et ouvertes.
3. Que les patients soient informés, simplement, de l'endroit où sont leurs données et de
   qui peut y accéder.

La confiance dans le soin repose sur le secret. Nous, signataires, demandons que ce secret
soit protégé par le droit de notre pays et de l'Union, et par lui seul.
"""

TITLE_EN = "Our health data must stay under our jurisdiction"
SUMMARY_EN = (
    "Clinicians, researchers, engineers and citizens ask that the health data of people in "
    "France be hosted and processed out of reach of extraterritorial laws."
)
BODY_EN = """\
Health data tell everything about us: our illnesses, our treatments, our weaknesses. They
are entrusted to carers under medical confidentiality. They cannot become a raw material
exposed to the laws of another country.

Yet a growing share of these data is hosted by companies subject to **extraterritorial**
laws, which let foreign authorities access them without patients being told, and without
our courts being able to object.

## What we ask

1. That every national health database be hosted by an operator subject to European law
   alone, with a public migration timetable.
2. That hospitals be given the means and the skills to choose sovereign, open solutions.
3. That patients be told, plainly, where their data are and who can access them.

Trust in care rests on confidentiality. We, the undersigned, ask that this confidentiality
be protected by the law of our country and of the Union, and by it alone.
"""

TITLES = {
    "clinician": ["Médecin généraliste", "Infirmière", "Praticien hospitalier", "Pharmacienne",
                  "Psychiatre", "Sage-femme", "Cheffe de service"],
    "researcher": ["Chercheuse en santé publique", "Maître de conférences", "Épidémiologiste",
                   "Directeur de recherche"],
    "engineer": ["Ingénieure logiciel", "Architecte systèmes", "Responsable sécurité",
                 "Administrateur systèmes", "Ingénieur données"],
    "mp": ["Député", "Sénatrice", "Députée européenne"],
    "organisation": ["Président", "Déléguée générale", "Porte-parole"],
    "citizen": [""],
}  # fmt: skip
ORGANISATIONS = {
    "clinician": ["CHU de Nantes", "AP-HP", "Hospices civils de Lyon", "Centre de santé"],
    "researcher": ["Inserm", "CNRS", "Université de Bordeaux", "Inria"],
    "engineer": ["Association Libre Santé", "Collectif Numérique Souverain"],
    "mp": ["Assemblée nationale", "Sénat", "Parlement européen"],
    "organisation": ["Association des patients connectés", "Observatoire des données"],
    "citizen": [""],
}  # fmt: skip
WEIGHTS = {"citizen": 45, "clinician": 20, "researcher": 12, "engineer": 12, "organisation": 6,
           "mp": 5}  # fmt: skip


# Fictional officials (example.org addresses), imported as organisers import theirs.
DEMO_OFFICIALS = ROOT / "docs" / "examples" / "officials.csv"


def load_demo_officials(now: datetime) -> int:
    """Import the fictional officials of docs/examples/officials.csv; returns how many were
    created (none the second time)."""
    outcome = import_officials(
        DEMO_OFFICIALS.read_bytes(), source=DEMO_OFFICIALS.name, now=now, via="demo"
    )
    if outcome.plan.errors:
        raise ValueError(f"{DEMO_OFFICIALS}: {outcome.plan.errors[0]}")
    return len(outcome.plan.new)


# Fictional institutions (example.org addresses) for the demo's objection campaign.
DEMO_INSTITUTIONS = ROOT / "docs" / "examples" / "institutions.csv"
DEMO_OBJECTION_SUBJECT = "Exercer les droits informatique et libertés : opposition"
DEMO_OBJECTION_BODY = """Madame, Monsieur,

Je soussigné(e) {{ supporter.first_name }} {{ supporter.last_name }}
{{ supporter.details }}
m’oppose, en application de l’article 21 du RGPD, à la transmission de mes données de santé
détenues par {{ institution.name }} à la plateforme nationale des données de santé.

Je vous remercie de me confirmer la prise en compte de cette opposition dans le délai d’un
mois prévu par l’article 12 du RGPD.

Le {{ today }},
{{ supporter.first_name }} {{ supporter.last_name }}
"""


def load_demo_objections(petition: Petition, now: datetime) -> None:
    """Import the fictional institutions of docs/examples/institutions.csv and open the demo
    petition's objection campaign (both idempotent)."""
    plan = import_institutions(
        DEMO_INSTITUTIONS.read_bytes(), source=DEMO_INSTITUTIONS.name, now=now, via="demo"
    )
    if plan.errors:
        raise ValueError(f"{DEMO_INSTITUTIONS}: {plan.errors[0]}")
    if objection_letter_of(petition.id) is None:
        set_objection_letter(petition, DEMO_OBJECTION_SUBJECT, DEMO_OBJECTION_BODY, now)
    _demo_objection_steps(petition, now)


def _demo_objection_steps(petition: Petition, now: datetime) -> None:
    """Steps of some demo supporters' letters (prepared, sent, answered, complaints), so
    that the organisers' counts and chart show something; once (seeded)."""
    signatures = list(
        db.session.scalars(
            select(Signature)
            .where(
                Signature.petition_id == petition.id,
                Signature.status == SignatureStatus.CONFIRMED,
            )
            .order_by(Signature.id)
        )
    )
    ids = [signature.id for signature in signatures]
    if not ids or db.session.scalar(
        select(ObjectionEvent.id).where(ObjectionEvent.signature_id.in_(ids)).limit(1)
    ):
        return
    institutions = list(db.session.scalars(select(Institution)))
    chance = random.Random(20)  # noqa: S311 - demo data, not security
    for signature in signatures:
        funds = [
            row
            for row in institutions
            if row.kind == InstitutionKind.HOLDER and row.serves(signature.departement or "")
        ]
        if not funds or chance.random() < 0.4:
            continue
        fund = funds[0]
        at = signature.confirmed_at + timedelta(hours=chance.randint(1, 72))
        steps = [(EventKind.PREPARED, at)]
        if chance.random() < 0.6:
            steps.append((EventKind.SENT, at + timedelta(days=chance.randint(0, 3))))
            if chance.random() < 0.4:
                kind = chance.choice([EventKind.ANSWERED, EventKind.ANSWERED_UNSATISFACTORILY])
                steps.append((kind, steps[-1][1] + timedelta(days=chance.randint(2, 6))))
                if kind == EventKind.ANSWERED_UNSATISFACTORILY:
                    steps.append((EventKind.COMPLAINT_PREPARED, steps[-1][1]))
        for kind, moment in steps:
            db.session.add(
                ObjectionEvent(
                    signature_id=signature.id,
                    institution_id=fund.id,
                    kind=kind,
                    at=min(moment, now),
                )
            )
    db.session.commit()


def _demo_petition(now: datetime) -> Petition:
    petition = db.session.scalar(select(Petition).where(Petition.slug == DEMO_SLUG))
    if petition is not None:
        return petition
    petition = Petition(
        slug=DEMO_SLUG, language="fr", goal=1000, status=PetitionStatus.DRAFT, created_at=now
    )
    petition.texts = [
        PetitionText(language="fr", title=TITLE_FR, summary=SUMMARY_FR, body=BODY_FR),
        PetitionText(language="en", title=TITLE_EN, summary=SUMMARY_EN, body=BODY_EN),
    ]
    petition.offered_categories = [
        PetitionCategory(category_key=key, position=position)
        for key, _fr, _en, position in DEFAULT_CATEGORIES
    ]
    petition.open()
    db.session.add(petition)
    db.session.flush()
    return petition


def _demo_users(now: datetime) -> dict[Role, User]:
    users = {}
    for email, role in DEMO_USERS:
        users[role] = find_user_by_email(email) or create_user(email, role, DEMO_PASSWORD, now)
    return users


def load_demo(now: datetime, signatories: int = 200) -> int:
    """Create the demo accounts, petition and confirmed signatories; returns how many
    signatories were added. Deterministic (seeded): running it twice adds nothing."""
    ensure_default_categories()
    users = _demo_users(now)
    petition = _demo_petition(now)
    if petition.owner_id is None:
        petition.owner_id = users[Role.ORGANISER].id
        db.session.flush()
    assign_moderator(petition, users[Role.MODERATOR])
    fake = Faker("fr_FR")
    fake.seed_instance(2026)
    chance = random.Random(2026)  # noqa: S311 - demo data, not security
    existing = set(
        db.session.scalars(
            select(Signature.email_digest).where(Signature.petition_id == petition.id)
        )
    )
    added = 0
    for number in range(signatories):
        first, last = fake.first_name(), fake.last_name()
        category = chance.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        title = chance.choice(TITLES[category]) or fake.job()[:200]
        organisation = chance.choice(ORGANISATIONS[category])
        show_name = chance.random() < 0.85
        confirmed_at = now - timedelta(minutes=chance.randint(10, 20 * 24 * 60))
        address = f"demo-{number}@example.org"
        digest = email_digest(address)
        if digest in existing:
            continue
        db.session.add(
            Signature(
                petition_id=petition.id,
                status=SignatureStatus.CONFIRMED,
                first_name=first,
                last_name=last,
                title=title,
                organisation=organisation,
                category_key=category,
                departement=chance.choice(["75", "69", "13", "33", "44", "59", "31", "67"]),
                show_name=show_name,
                show_title=show_name and chance.random() < 0.75,
                show_organisation=show_name and bool(organisation) and chance.random() < 0.6,
                consent_version=petition.consent_version,
                consented_at=confirmed_at,
                email_digest=digest,
                email_ciphertext=encrypt_email(address),
                sort_last=sort_key(last),
                sort_first=sort_key(first),
                created_at=confirmed_at,
                confirmed_at=confirmed_at,
                status_changed_at=confirmed_at,
                verification_level=VerificationLevel.EMAIL,
                verification_method=VerificationMethod.CONFIRMATION_LINK,
                address_confirmed_at=confirmed_at,
            )
        )
        added += 1
    db.session.flush()
    recount_petition(db.session, petition.id)
    db.session.commit()
    load_demo_officials(now)
    load_demo_objections(petition, now)
    load_demo_verification(petition, now)
    load_demo_mailings(petition, users[Role.ORGANISER], now)
    return added


# --- Mailings: a letter to the députés, ready to preview and send; supporters' letters open --

DEMO_LETTER_SUBJECT = "Données de santé : {{ petition.confirmed }} signataires vous écrivent"
DEMO_LETTER_BODY = """{{ official.salutation }},

En votre qualité de {{ official.role|lower }}, nous vous adressons la tribune
« {{ petition.title }} », signée à ce jour par {{ petition.confirmed }} personnes, dont
{{ counts.clinician }} soignants et {{ counts.researcher }} chercheurs.

Le texte et la liste publique des signataires : {{ petition.url }}

Nous vous remercions de votre attention.
"""
DEMO_SUPPORTER_SUBJECT = "Protégeons nos données de santé"
DEMO_SUPPORTER_BODY = """{{ official.salutation }},

J'ai signé la tribune « {{ petition.title }} » ({{ petition.url }}) et je vous demande,
en tant que {{ official.role|lower }} de mon département, de la soutenir.

[Dites en quelques lignes, avec vos mots, pourquoi ce sujet vous tient à cœur.]
"""


def load_demo_mailings(petition: Petition, organiser: User, now: datetime) -> None:
    """A draft letter to the députés, and the template of supporters' letters, open; only
    when the petition has no mailing yet."""
    if db.session.scalar(select(Mailing.id).where(Mailing.petition_id == petition.id)):
        return
    create_mailing(
        petition,
        MailingKind.LETTER,
        MailingFields(name="Lettre aux députés", subject_template=DEMO_LETTER_SUBJECT,
                      body_template=DEMO_LETTER_BODY, roles=["depute"], per_minute=60),
        organiser,
        now,
    )  # fmt: skip
    letters = create_mailing(
        petition,
        MailingKind.REPRESENTATIVES,
        MailingFields(name="Écrire à mes élus", subject_template=DEMO_SUPPORTER_SUBJECT,
                      body_template=DEMO_SUPPORTER_BODY, official_daily_cap=50),
        organiser,
        now,
    )  # fmt: skip
    start_mailing(letters.id, organiser, now)


# --- Verified categories: a fictional RPPS register, domain rules, verified signatories ---------

# The header of the public extract (docs: /work/shared/rpps-extract-header.txt); every line of
# the demo register has these 52 fields and a trailing "|", like the real file.
RPPS_HEADER = (
    "Type d'identifiant PP|Identifiant PP|Identification nationale PP|Code civilité d'exercice|"
    "Libellé civilité d'exercice|Code civilité|Libellé civilité|Nom d'exercice|"
    "Prénom d'exercice|Code profession|Libellé profession|Code catégorie professionnelle|"
    "Libellé catégorie professionnelle|Code type savoir-faire|Libellé type savoir-faire|"
    "Code savoir-faire|Libellé savoir-faire|Code mode exercice|Libellé mode exercice|"
    "Numéro SIRET site|Numéro SIREN site|Numéro FINESS site|"
    "Numéro FINESS établissement juridique|Identifiant technique de la structure|"
    "Raison sociale site|Enseigne commerciale site|"
    "Complément destinataire (coord. structure)|"
    "Complément point géographique (coord. structure)|Numéro Voie (coord. structure)|"
    "Indice répétition voie (coord. structure)|Code type de voie (coord. structure)|"
    "Libellé type de voie (coord. structure)|Libellé Voie (coord. structure)|"
    "Mention distribution (coord. structure)|Bureau cedex (coord. structure)|"
    "Code postal (coord. structure)|Code commune (coord. structure)|"
    "Libellé commune (coord. structure)|Code pays (coord. structure)|"
    "Libellé pays (coord. structure)|Téléphone (coord. structure)|"
    "Téléphone 2 (coord. structure)|Télécopie (coord. structure)|"
    "Adresse e-mail (coord. structure)|Code Département (structure)|"
    "Libellé Département (structure)|Ancien identifiant de la structure|"
    "Autorité d'enregistrement|Code secteur d'activité|Libellé secteur d'activité|"
    "Code section tableau pharmaciens|Libellé section tableau pharmaciens|"
)
# Fictional professionals (numbers starting 999, Luhn-valid): type, number, last name, first
# name, profession code and label, site. Camille Fontaine and Léa Rousseau are left for
# testers (README); a professional with two activities has two lines; 0 is an ADELI line.
DEMO_REGISTER = [
    ("8", "99900000011", "FONTAINE", "Camille", "10", "Médecin", "Centre hospitalier Exemple"),
    ("8", "99900000011", "FONTAINE", "Camille", "10", "Médecin", "Cabinet de la Gare"),
    ("8", "99900000029", "LEFÈVRE", "Hélène", "60", "Infirmier", "CHU Exemple"),
    ("8", "99900000037", "N'DIAYE", "Aïssatou", "21", "Pharmacien", "Pharmacie du Port"),
    ("8", "99900000045", "MARTIN-DUBOIS", "Jean-Baptiste", "40", "Chirurgien-Dentiste", ""),
    ("8", "99900000052", "ROUSSEAU", "Léa", "50", "Sage-Femme", "Maternité Exemple"),
    ("0", "751234567", "DURAND", "Marc", "26", "Audioprothésiste", ""),
]
DEMO_DOMAIN_RULES = [
    ("mp", "assemblee-nationale.fr"),
    ("mp", "senat.fr"),
    ("mp", "europarl.europa.eu"),
    ("clinician", "aphp.fr"),
    ("clinician", "chu-*.fr"),
]
# Demo signatories verified by each method: (first, last, category, title, address, RPPS).
DEMO_VERIFIED = [
    ("Hélène", "Lefèvre", "clinician", "Infirmière", "helene.lefevre@example.net", "99900000029"),
    ("Aïssatou", "N'Diaye", "clinician", "Pharmacienne", "a.ndiaye@example.net", "99900000037"),
    ("Paul", "Girard", "clinician", "Praticien hospitalier", "paul.girard@chu-exemple.fr", None),
    ("Thomas", "Lacroix", "mp", "Député", "thomas.lacroix@example.org", None),
]


def demo_register_lines() -> list[str]:
    """The demo register in the extract's format: header, then one line per activity."""
    width = RPPS_HEADER.count("|")
    lines = [RPPS_HEADER]
    for kind, number, last, first, code, label, site in DEMO_REGISTER:
        fields = [""] * width
        fields[0:3] = [kind, number, kind + number]
        fields[7:11] = [last, first, code, label]
        fields[24] = site
        lines.append("|".join(fields) + "|")
    return [line + "\n" for line in lines]


def load_demo_verification(petition: Petition, now: datetime) -> None:
    """Write and import the demo RPPS register (once), add the demo domain rules, and sign
    a few verified demo signatories. Idempotent."""
    from campaign.verification.registries import active_register, import_rpps_register
    from campaign.verification.services import add_domain_rule, domain_rules, reassess_signature

    if active_register() is None:
        with tempfile.TemporaryDirectory() as folder:
            # Through a file, as `flask registry import rpps FILE` reads the real extract.
            path = Path(folder) / "demo-rpps.txt"
            path.write_text("".join(demo_register_lines()), encoding="utf-8")
            with path.open(encoding="utf-8", newline="") as lines:
                report = import_rpps_register(lines, path.name, now)
        if not report.imported:
            raise ValueError(f"demo register: {report.errors[0]}")
    existing_rules = {(rule.category_key, rule.pattern) for rule in domain_rules()}
    for category_key, pattern in DEMO_DOMAIN_RULES:
        if (category_key, pattern) not in existing_rules:
            add_domain_rule(category_key, pattern, None, now)
    for first, last, category, title, address, rpps in DEMO_VERIFIED:
        digest = email_digest(address)
        exists = db.session.scalar(
            select(Signature.id).where(
                Signature.petition_id == petition.id, Signature.email_digest == digest
            )
        )
        if exists is not None:
            continue
        signature = Signature(
            petition_id=petition.id,
            status=SignatureStatus.CONFIRMED,
            first_name=first,
            last_name=last,
            title=title,
            category_key=category,
            show_name=True,
            show_title=True,
            consent_version=petition.consent_version,
            consented_at=now,
            email_digest=digest,
            email_ciphertext=encrypt_email(address),
            sort_last=sort_key(last),
            sort_first=sort_key(first),
            created_at=now,
            confirmed_at=now,
            status_changed_at=now,
            address_confirmed_at=now,
        )
        db.session.add(signature)
        db.session.flush()
        count_new_signatures(db.session, [signature])
        if rpps:
            db.session.add(VerificationClaim(signature_id=signature.id, rpps_number=rpps))
            db.session.flush()
        reassess_signature(signature.id, now)
    db.session.commit()
