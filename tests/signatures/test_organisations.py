"""Organisations sign: one name as they name themselves (a bare domain will do, a link
will not), a description, no first name; on the sign form (no JavaScript needed) and in
imports (an empty first name for the organisation category, or a kind column)."""

import re

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.signatures.imports import ImportMode, read_signature_list
from campaign.signatures.models import Signature
from campaign.signatures.services import published_signatories, signatory_line
from tests.factories import make_petition
from tests.support import sign, text_part, visible_text

HEADER = "last_name,first_name,title,organisation,category,email,departement,show_name"


def organisation_data(**overrides):
    data = dict(for_organisation="y", first_name="", last_name="example.org",
                title="Collectif de soignants, pour l’hôpital", organisation="",
                category="organisation", email="contact@example.org")  # fmt: skip
    data.update(overrides)
    return data


def only_signature() -> Signature:
    return db.session.scalars(select(Signature)).one()


def test_an_organisation_signs_under_its_own_name_without_a_first_name(browser, mailbox):
    petition = make_petition()
    page = browser.get(f"/p/{petition.slug}").text
    # No JavaScript: the box is a plain checkbox, and the first name is not required by HTML.
    [box] = re.findall(r'<input[^>]*name="for_organisation"[^>]*>', page)
    assert 'type="checkbox"' in box
    [first_name] = re.findall(r'<input[^>]*name="first_name"[^>]*>', page)
    assert "required" not in first_name
    response = sign(browser, petition, **organisation_data())
    assert response.status_code == 303
    signature = only_signature()
    assert (signature.kind, signature.first_name, signature.last_name) == (
        "organisation",
        "",
        "example.org",
    )
    assert signatory_line(signature) == "example.org, Collectif de soignants, pour l’hôpital"
    [message] = mailbox.messages
    assert text_part(message).startswith("Bonjour example.org,")


@pytest.mark.parametrize(
    ("overrides", "language", "message"),
    [
        ({"first_name": "Jean"}, "fr", "Une organisation signe sans prénom : laissez-le vide."),
        ({"first_name": "Jean"}, "en", "An organisation signs without a first name"),
        ({"last_name": "https://example.org"}, "fr", "Un nom ne peut pas contenir de lien"),
        ({"last_name": "example.org/don"}, "en", "A name cannot contain a link"),
        ({"last_name": ""}, "en", "Enter the name of the organisation."),
        ({"for_organisation": None, "first_name": ""}, "en", "Enter your first name."),
        ({"for_organisation": None, "first_name": "Jean"}, "en",
         "A name cannot contain a web address."),
    ],
)  # fmt: skip
def test_a_bad_organisation_or_a_person_without_first_name_is_refused(
    browser, overrides, language, message
):
    petition = make_petition()
    browser.get(f"/language/{language}?next=/")
    response = sign(browser, petition, **organisation_data(**overrides))
    assert response.status_code == 422
    assert message.replace("\u00a0", " ") in visible_text(response.text).replace("\u00a0", " ")
    assert db.session.scalar(select(func.count(Signature.id))) == 0


def lines_of(petition, *lines, header=HEADER):
    content = "\n".join([header, *lines]).encode()
    return read_signature_list(content, petition, ImportMode.CONFIRMED)


def errors_of(report):
    with force_locale("en"):
        return [(e.line, e.field, str(e.reason)) for e in report.errors]


def test_imports_take_organisations_by_category_or_kind_and_refuse_links(app):
    petition = make_petition()
    report = lines_of(
        petition,
        "example.org,,Collectif,,organisation,,,1",
        "Les Amis du Rhône,,Association,,citizen,,,1,organisation",
        "Martin,Alice,,,organisation,,,1,",
        "https://example.org,,,,organisation,,,1,",
        "example.org/page,,,,organisation,,,1,organisation",
        "Durand,,,,citizen,,,1,",
        "Asso,Jean,,,citizen,,,1,organisation",
        "Zed,Zoé,,,citizen,,,1,robot",
        "example.org,Paul,,,citizen,,,1,person",
        header=HEADER + ",kind",
    )
    assert [(line.line, line.kind, line.first_name) for line in report.lines] == [
        (2, "organisation", ""),
        (3, "organisation", ""),
        (4, "person", "Alice"),
    ]
    link = "A name cannot contain a link (https://… or a path after a domain)."
    assert errors_of(report) == [
        (5, "last_name", link),
        (6, "last_name", link),
        (7, "first_name", "Required."),
        (8, "first_name", "An organisation has no first name: leave it empty."),
        (9, "kind", "Must be person or organisation."),
        (10, "last_name", "A name cannot contain a web address."),
    ]


def test_organisations_sort_with_the_people_by_name(app):
    from campaign.clock import utcnow
    from campaign.signatures.imports import import_signatures

    petition = make_petition()
    content = "\n".join([
        HEADER, "Martin,Alice,,,citizen,,,1", "example.org,,Collectif,,organisation,,,1",
        "Durand,Paul,,,citizen,,,1",
    ]).encode()  # fmt: skip
    import_signatures(petition, content, mode=ImportMode.CONFIRMED, source="l", now=utcnow())
    page = published_signatories(petition.id)
    assert [signatory_line(s) for s in page.items] == [
        "Durand Paul",
        "example.org, Collectif",
        "Martin Alice",
    ]
