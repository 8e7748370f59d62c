"""The petition page's HTML is exactly what it was before its rendering was made cheaper
(memoised map, labels computed once, fewer statements): the bytes of the page of one
petition with départements, first and latest signatories, in French and in English, are
compared with pages saved from the uncached rendering (tests/petitions/pages/), and the
memoised parts with the macro they replace, for other counts and in both languages.

To save the pages again after a deliberate change of the page: TRIBUNE_SAVE_PAGES=1."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from flask import render_template_string
from flask_babel import force_locale
from sqlalchemy import event

from campaign.extensions import db
from campaign.web.departement_map import departement_map, public_map_html
from tests.factories import make_petition, make_signature
from tests.support import english_client

PAGES = Path(__file__).resolve().parent / "pages"
WHEN = datetime(2026, 3, 1, 12, 0)


def petition_to_show():
    """A petition with every part of the page filled in, the same bytes on every run."""
    petition = make_petition(slug="page-output", title="Pour des soins <partout>", goal=40)
    people = [
        ("35", 6, {}),
        ("75", 5, {"title": "Infirmière", "show_title": True}),
        ("13", 9, {"organisation": "CHU & co", "show_organisation": True}),
        ("48", 2, {}),
        ("971", 5, {}),
    ]
    number = 0
    for departement, count, extra in people:
        for _ in range(count):
            number += 1
            make_signature(
                petition,
                departement=departement,
                first_name=f"Prénom{number}",
                last_name=f"Nom{number}",
                email=f"page{number}@example.org",
                now=WHEN.replace(minute=number),
                first_signatory=number <= 3,
                **extra,
            )
    make_signature(petition, first_name="Sans", last_name="Département", now=WHEN,
                   email="page-none@example.org", show_name=False)  # fmt: skip
    return petition


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_page_is_byte_for_byte_the_saved_one(app, language):
    petition = petition_to_show()
    reader = english_client(app) if language == "en" else app.test_client()
    for _ in range(2):  # the second one from whatever was memoised
        page = reader.get(f"/p/{petition.slug}").get_data(as_text=True)
        saved = PAGES / f"petition-{language}.html"
        if os.environ.get("TRIBUNE_SAVE_PAGES"):
            saved.write_text(page)
        assert page == saved.read_text()


MACRO = '{% from "petitions/_map.html" import france_map %}{{ france_map(map, "departements") }}'


def test_the_memoised_map_is_the_macro_for_any_counts(app):
    cases = [{}, {"35": 4}, {"35": 6, "75": 5, "13": 1200, "971": 7}, {"2A": 5, "2B": 5}]
    with app.test_request_context():
        for counts in cases:
            references = {}
            for language in ["fr", "en"]:
                with force_locale(language):
                    references[language] = render_template_string(
                        MACRO, map=departement_map(counts, 5)
                    )
            assert references["fr"] != references["en"]
            for language, other in [("fr", "en"), ("en", "fr")]:
                # Asked while the request reads the other language: the map is in its own.
                with force_locale(other):
                    for _ in range(2):
                        assert public_map_html(counts, 5, language) == references[language]


def test_the_page_asks_the_database_eight_times(app):
    """The petition (with its texts and categories: 3), the counts per category and level
    (which also give the total), the latest and the first signatories, the letters' ledger
    and the counts per département: no statement asked twice for the same rows."""
    petition = petition_to_show()
    reader = app.test_client()
    reader.get(f"/p/{petition.slug}")
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert reader.get(f"/p/{petition.slug}").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 8, statements


def test_the_blank_sign_form_follows_the_categories_offered_and_their_labels(app):
    petition = make_petition()
    reader = app.test_client()
    assert 'value="citizen"' in reader.get(f"/p/{petition.slug}").get_data(as_text=True)
    petition.offered_categories = [
        offered for offered in petition.offered_categories if offered.category_key != "citizen"
    ]
    kept = petition.offered_categories[0].category
    kept.label_fr = "Nouvel intitulé"
    db.session.commit()
    page = reader.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert 'value="citizen"' not in page
    assert f'<option value="{kept.key}">Nouvel intitulé</option>' in page
