"""The demo petition and its fictional signatories (Faker fr_FR), loaded idempotently."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from faker import Faker
from sqlalchemy import select

from campaign.accounts.models import Role, User
from campaign.accounts.services import assign_moderator, create_user, find_user_by_email
from campaign.extensions import db
from campaign.personal_data import email_digest, encrypt_email
from campaign.petitions.models import Petition, PetitionCategory, PetitionStatus, PetitionText
from campaign.petitions.services import DEFAULT_CATEGORIES, ensure_default_categories
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import sort_key

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
            )
        )
        added += 1
    db.session.commit()
    return added
