"""Organisers' templates cannot take the server down (issue 15.6).

Every template goes through one renderer: Jinja's immutable sandbox with bounds on the size
of what it builds and writes out, on loop turns and on time. Whatever a template does
wrong comes back as a message on the page (never a 500), and a template that fails for one
recipient at send time fails that delivery alone.
"""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mailings.merge_fields import letter_context, petition_context
from campaign.mailings.models import Delivery, DeliveryStatus, Mailing, MailingKind
from campaign.mailings.services import MailingFields, create_mailing, start_mailing
from campaign.mailings.templates import (
    MAX_SECONDS,
    ProblemKind,
    TemplateProblem,
    render_letter,
)
from tests.factories import make_official, make_petition, make_signature, make_user
from tests.support import csrf_token, english_client, login, visible_text


@pytest.fixture
def owner(site):
    return make_user("organiser")


@pytest.fixture
def petition(owner):
    petition = make_petition(owner_id=owner.id)
    make_signature(petition)
    return petition


@pytest.fixture
def official(site):
    return make_official(first_name="Claire", last_name="Dumont")


def context_for(petition, official) -> dict:
    return letter_context(petition_context(petition), petition.language, official=official)


def problem_of(body: str, context: dict) -> TemplateProblem:
    """The problem `body` raises, and that it raised it within the time bound (plus slack
    for a busy machine)."""
    started = time.monotonic()
    with pytest.raises(TemplateProblem) as raised:
        render_letter("Lettre", body, context)
    assert time.monotonic() - started < MAX_SECONDS + 1.5
    return raised.value


# --- Work, size and time ---------------------------------------------------------------------

NESTED_RANGES = (
    "{% for a in range(100) %}{% for b in range(100) %}{% for c in range(100) %}"
    "{{ official.name }}{% endfor %}{% endfor %}{% endfor %}"
)
SILENT_NESTED_RANGES = (
    "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}x"
)
SLOW_FILTER_LOOP = (
    "{% set words = 'un mot '*14000 %}{% for i in range(1000) %}{{ words|wordcount }}{% endfor %}"
)


@pytest.mark.parametrize(
    "body",
    [NESTED_RANGES, SILENT_NESTED_RANGES, SLOW_FILTER_LOOP],
    ids=["nested", "silent", "slow"],
)
def test_loops_that_take_too_much_work_are_stopped(petition, official, body):
    problem = problem_of(body, context_for(petition, official))

    assert problem.part == "body" and problem.kind == ProblemKind.TOO_MUCH_WORK


@pytest.mark.parametrize(
    "body",
    [
        "{{ 7**(7**7) }}",
        "{{ 2**5000 }}",
        "{{ 'ab'*10**7 }}",
        "{{ [1, 2]*10**7 }}",
        "{% set a = 'ab' %}" + "{% set a = a ~ a %}" * 30 + "{{ a|length }}",
        "{% set a = [1] %}" + "{% set a = [a, a, a, a, a, a, a, a, a, a] %}" * 10 + "{{ a }}",
        "{{ range(1000)|join('x'*1000) }}",
        "{{ ('a'*1000)|replace('', 'b'*1000) }}",
        "{{ '%099999999d' % 1 }}",
    ],
    ids=[
        "power",
        "big-power",
        "repeat-str",
        "repeat-list",
        "concat",
        "nesting",
        "join",
        "replace",
        "format",
    ],
)
def test_values_too_large_to_build_are_refused(petition, official, body):
    problem = problem_of(body, context_for(petition, official))

    assert problem.kind == ProblemKind.TOO_BIG


def test_the_power_of_the_issue_is_refused_at_once(petition, official):
    # 7**(7**9) held a worker for over a minute.
    started = time.monotonic()
    problem = problem_of("{{ 7**(7**9) }}", context_for(petition, official))

    assert problem.kind == ProblemKind.TOO_BIG
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    "body",
    [
        "{% for i in range(1000) %}{{ 'x'*1000 }}{% endfor %}",
        "{% set kept %}{% for i in range(1000) %}{{ 'y'*1000 }}{% endfor %}{% endset %}.",
        "{% macro m() %}{{ 'z'*50000 }}{% endmacro %}{{ m() }}{{ m() }}{{ m() }}",
    ],
    ids=["output", "captured", "macro"],
)
def test_output_is_capped_captured_blocks_included(petition, official, body):
    problem = problem_of(body, context_for(petition, official))

    assert problem.kind == ProblemKind.TOO_LONG


@pytest.mark.parametrize(
    "body",
    [
        "{{ 'x'.ljust(10**9) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ (5).to_bytes(10**9, 'big') }}",
        "{{ 'ab'|center(10**9) }}",
        "{{ lipsum(10**6) }}",
        "{% include 'base.html' %}",
        "{{ official.__class__.__mro__ }}",
    ],
    ids=["ljust", "format", "to_bytes", "center", "lipsum", "include", "dunder"],
)
def test_padding_methods_filters_globals_and_includes_are_not_offered(petition, official, body):
    problem = problem_of(body, context_for(petition, official))

    assert problem.kind in {
        ProblemKind.FORBIDDEN,
        ProblemKind.UNKNOWN_FIELD,
        ProblemKind.SYNTAX,
    }


def test_a_template_cannot_change_the_merge_data(petition, official):
    context = context_for(petition, official)
    title = context["petition"]["title"]

    problem = problem_of(
        "{{ petition.update(title='changed') }}{{ categories.append(1) }}", context
    )

    assert problem.kind == ProblemKind.FORBIDDEN
    assert context["petition"]["title"] == title
    assert "changed" not in render_letter("S", "{{ petition.title }}", context).text


def test_a_failing_calculation_is_a_problem_not_an_exception(petition, official):
    problem = problem_of("{{ 1/0 }}", context_for(petition, official))

    assert problem.kind == ProblemKind.CALCULATION and "division by zero" in problem.detail


def test_ordinary_letters_still_render(petition, official):
    body = (
        "{{ official.salutation }},\n{% for category in categories %}{{ category.label }}: "
        "{{ category.count }}\n{% endfor %}{{ petition.title|upper }} {{ 2**10 }} "
        "{{ official.name.split()|first }}{% if publication %}{{ publication.url }}{% endif %}"
    )

    letter = render_letter("À {{ official.name }}", body, context_for(petition, official))

    assert letter.subject == "À Claire Dumont"
    assert "1024 Claire" in letter.text


# --- Pages and the send job ------------------------------------------------------------------


def compose(client, petition, body: str) -> tuple[int, object]:
    """Create a letter to the députés through the pages and save `body` as its text."""
    base = f"/admin/p/{petition.slug}/mailings"
    token = csrf_token(client, "/admin/")
    created = client.post(
        f"{base}/new", data={"csrf_token": token, "kind": "letter", "name": "Lettre"}
    )
    mailing_id = int(re.search(r"/mailings/(\d+)/edit", created.headers["Location"]).group(1))
    saved = client.post(
        f"{base}/{mailing_id}/edit",
        data={
            "csrf_token": token,
            "name": "Lettre",
            "subject_template": "Lettre à {{ official.name }}",
            "body_template": body,
            "roles": ["depute"],
            "per_minute": "0",
            "domain_cap_per_hour": "0",
            "save": "Save",
        },
    )
    return mailing_id, saved


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{{ 1/0 }}", "a calculation in it divides by zero"),
        (NESTED_RANGES, "it takes too much work to write out"),
        ("{{ 7**(7**9) }}", "a calculation in it makes a value far too large"),
        ("{{ petition.update(title='x') }}", "it uses something a letter may not do"),
    ],
    ids=["zero", "loops", "power", "mutation"],
)
def test_template_errors_are_form_messages_on_save_preview_and_start(
    site, owner, petition, official, mailbox, body, expected
):
    client = english_client(site, owner)
    mailing_id, saved = compose(client, petition, body)
    base = f"/admin/p/{petition.slug}/mailings/{mailing_id}"

    assert saved.status_code == 200
    assert f"The text cannot be written out: {expected}" in visible_text(saved.get_data(True))
    preview = client.get(f"{base}/preview")
    assert preview.status_code == 200
    assert expected in visible_text(preview.get_data(True))
    started = client.post(f"{base}/start", data={"csrf_token": csrf_token(client, "/admin/")})
    assert started.status_code == 422
    assert expected in visible_text(started.get_data(True))
    assert db.session.scalar(select(func.count(Delivery.id))) == 0
    assert mailbox.messages == []


def test_french_organisers_read_the_message_in_french(site, owner, petition, official):
    client = site.test_client()
    login(client, owner)
    _mailing_id, saved = compose(client, petition, "{{ 1/0 }}")

    page = visible_text(saved.get_data(True))
    assert "Le texte ne peut pas être rédigé : un calcul y divise par zéro." in page


def test_a_template_failing_for_one_recipient_fails_that_delivery_and_the_rest_is_sent(
    site, mailbox, petition
):
    # The first recipients (by name) render; the last one has no département, and the
    # division by its length fails for them alone, at send time.
    for name in ("Dumont", "Girard", "Martin"):
        make_official(last_name=name)
    odd = make_official(last_name="Zola", departement=None)
    organiser = make_user(email="organisatrice@asso.example")
    mailing = create_mailing(
        petition,
        MailingKind.LETTER,
        MailingFields(
            name="Lettre",
            subject_template="Lettre à {{ official.name }}",
            body_template="{{ 100 // official.departement|length }}",
            roles=["depute"],
        ),
        organiser,
        utcnow(),
    )

    assert start_mailing(mailing.id, organiser, utcnow())

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        db.session.expire_all()
        if db.session.get(Mailing, mailing.id).status == "done":
            break
        time.sleep(0.05)
    failed = db.session.scalars(select(Delivery).where(Delivery.status == DeliveryStatus.FAILED))
    [failure] = failed.all()
    assert failure.official_id == odd.id
    assert "cannot be written out for this recipient" in failure.last_error
    assert "division by zero" in failure.last_error
    assert db.session.scalar(
        select(func.count(Delivery.id)).where(Delivery.status == DeliveryStatus.SENT)
    ) == 3  # fmt: skip
    assert len(mailbox.messages) == 3
    assert mailbox.to(odd.email) == []
