"""The files themselves: CSV formula neutralisation, text cells in xlsx, lines as newspapers
print them, and a PDF that fetches nothing."""

import csv
import io
import re
from datetime import datetime

import pytest
from openpyxl import load_workbook

from campaign.publication.formats import (
    CSV_COLUMNS,
    Entry,
    ErasedEntry,
    Snapshot,
    as_of_line,
    neutralise_cell,
    refusing_url_fetcher,
    render_csv,
    render_json,
    render_txt,
    render_txt_by_category,
    sheet_title,
    write_pdf,
    write_xlsx,
)
from campaign.publication.merkle import canonical_json
from tests.publication.lists import pdf_text, txt_list

FORMULAS = [
    '=HYPERLINK("http://x","y")',
    "+1",
    "-1+1",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "\n=1",
    "＝1+1",
]


def snapshot() -> Snapshot:
    categories = [
        {"key": "clinician", "label_fr": "Soignants", "label_en": "Clinicians"},
        {"key": "citizen", "label_fr": "Citoyens", "label_en": "Citizens"},
    ]
    header = canonical_json({"petition": "p", "sequence": 1}).decode()
    texts = canonical_json({"fr": {"title": "T", "summary": "", "body": "B"}}).decode()
    return Snapshot("p", "fr", 1, datetime(2026, 11, 26, 9, 30), header, "ab" * 32, texts,
                    categories)  # fmt: skip


def entry(last="Martin", first="Alice", category="citizen", title=None, organisation=None):
    return Entry(last_name=last, first_name=first, title=title, organisation=organisation,
                 category=category, confirmed_on="2026-11-26", salt="0" * 32)  # fmt: skip


def text(chunks) -> str:
    return b"".join(chunks).decode()


def test_a_line_is_surname_firstname_title_organisation_with_empty_fields_left_out():
    assert entry(title="Médecin", organisation="AP-HP").line() == "Martin Alice, Médecin, AP-HP"
    assert entry(organisation="AP-HP").line() == "Martin Alice, AP-HP"
    assert entry().line() == "Martin Alice"


def test_a_line_break_inside_a_field_cannot_forge_a_second_line():
    forged = entry(title="Médecin\nFaux Nom, Ministre", organisation="\u2028AP-HP\r")
    assert text(render_txt([forged])) == "Martin Alice, Médecin Faux Nom, Ministre,  AP-HP \n"


def test_the_moment_a_file_reflects_is_said_in_paris_time_in_the_petitions_language():
    # Winter (UTC+1) and summer (UTC+2); French typography: no-break spaces in "23 h 40",
    # a narrow no-break space between thousands, "1er" for the first of the month.
    assert as_of_line(datetime(2026, 12, 7, 22, 40), 1234, "fr") == (
        "Liste arrêtée le 7 décembre 2026 à 23\u00a0h\u00a040 (heure de Paris)"
        " — 1\u202f234 signataires"
    )
    assert as_of_line(datetime(2026, 6, 30, 22, 5), 1, "fr") == (
        "Liste arrêtée le 1er juillet 2026 à 0\u00a0h\u00a005 (heure de Paris) — 1 signataire"
    )
    assert as_of_line(datetime(2026, 12, 7, 22, 40), 1234, "en") == (
        "List as of 7 December 2026, 23:40 (Paris time) — 1,234 signatories"
    )


def test_the_txt_begins_with_the_moment_then_the_list_as_before():
    as_of = as_of_line(datetime(2026, 12, 7, 22, 40), 2, "fr")
    rendered = text(render_txt([entry("Durand", "Paul"), entry()], as_of=as_of))
    assert rendered == as_of + "\n\nDurand Paul\nMartin Alice\n"
    assert txt_list(rendered) == text(render_txt([entry("Durand", "Paul"), entry()]))


def test_txt_by_category_has_a_heading_per_category_with_signatories_in_petition_order():
    entries = {"clinician": [entry("Durand", "Paul", "clinician")], "citizen": [entry()]}
    rendered = text(render_txt_by_category(snapshot(), lambda key: entries.get(key, [])))
    assert txt_list(rendered) == "Soignants\n\nDurand Paul\n\nCitoyens\n\nMartin Alice\n"


@pytest.mark.parametrize("value", FORMULAS)
def test_every_formula_cell_is_neutralised(value):
    assert neutralise_cell(value) == "'" + value


def test_csv_quotes_every_field_and_reads_back_as_the_literal_neutralised_text():
    hostile = entry(last=FORMULAS[0], first=FORMULAS[1], title=FORMULAS[2],
                    organisation=FORMULAS[3])  # fmt: skip
    others = [entry(last=value, first="x") for value in FORMULAS[4:]]
    content = text(render_csv(snapshot(), [hostile, *others]))
    assert content.startswith('\ufeff"last_name","first_name"')
    rows = list(csv.reader(io.StringIO(content.removeprefix("\ufeff"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1][:4] == ["'" + value for value in FORMULAS[:4]]
    assert [row[0] for row in rows[2:]] == ["'" + value for value in FORMULAS[4:]]
    quoted_fields = re.compile(r'"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*')
    for line in content.removeprefix("\ufeff").split("\r\n")[:2]:
        assert quoted_fields.fullmatch(line), line
    for row in rows[1:]:
        assert not any(
            cell.startswith(("=", "+", "-", "@", "\t", "\r", "\n", "＝")) for cell in row
        )


def test_xlsx_cells_are_text_even_when_they_look_like_formulas():
    target = io.BytesIO()
    hostile = entry(last=FORMULAS[0], first="=1+1", title="@SUM(A1)", organisation="007")
    write_xlsx(snapshot(), [hostile, entry("Durand", "Paul", "clinician")], target)
    workbook = load_workbook(io.BytesIO(target.getvalue()))
    assert workbook.sheetnames == ["Tous les signataires", "Soignants", "Citoyens", "À propos"]
    # The moment the list reflects: a document property, and a line of the "About" sheet.
    as_of = "Liste arrêtée le 26 novembre 2026 à 10\u00a0h\u00a030 (heure de Paris) — 0 signataire"
    assert workbook.properties.subject == as_of
    about = [row[0].value for row in workbook["À propos"].iter_rows()]
    assert about == ["T", as_of, "Publication n\u00b0\u00a01",
                     "Empreinte (SHA-256) de la publication\u00a0: " + "ab" * 32]  # fmt: skip
    everyone = list(workbook["Tous les signataires"].iter_rows())
    assert [cell.value for cell in everyone[1]][:4] == [FORMULAS[0], "=1+1", "@SUM(A1)", "007"]
    for row in everyone:
        for cell in row[:5] + row[6:8]:  # the text columns; F is the day, a date cell
            assert cell.data_type == "s" or cell.value is None
    assert [c.value for c in next(workbook["Soignants"].iter_rows(min_row=2))][:2] == [
        "Durand",
        "Paul",
    ]


def test_sheet_titles_are_valid_and_unique():
    taken = {"all"}
    assert sheet_title("All", taken) == "All (2)"
    assert (
        sheet_title("Chercheurs / chercheuses [CNRS]: * ?", set())
        == "Chercheurs   chercheuses  CNRS"
    )
    assert len(sheet_title("x" * 40, set())) == 31


def test_json_is_one_object_with_entries_in_order_and_erased_ones_as_their_leaf():
    import json

    objects = [entry().canonical().decode(), ErasedEntry("ab" * 32).canonical().decode()]
    content = text(render_json(snapshot(), [], objects))
    document = json.loads(content)
    assert document["entries"] == [entry().fields(), {"erased": "ab" * 32}]
    assert document["hash"] == "ab" * 32 and document["chain"] == []
    assert text(render_json(snapshot(), [], [])).startswith('{"chain":[],\n"entries":[],')


def test_pdf_renders_names_with_markup_as_text_and_fetches_nothing():
    fetcher = refusing_url_fetcher()
    target = io.BytesIO()
    write_pdf('<p>&lt;img src="http://evil.example/x"&gt; Martin</p>', target, fetcher)
    assert fetcher.refused == []
    assert '<img src="http://evil.example/x">' in pdf_text(target.getvalue())


def test_the_refusing_fetcher_records_remote_resources_and_fetches_none():
    fetcher = refusing_url_fetcher()
    html = ('<img src="http://evil.example/x"><style>@import url(https://evil.example/s.css);'
            "</style><p>text</p>")  # fmt: skip
    target = io.BytesIO()
    write_pdf(html, target, fetcher)
    assert sorted(fetcher.refused) == ["http://evil.example/x", "https://evil.example/s.css"]
    assert "text" in pdf_text(target.getvalue())


def test_the_list_pages_print_any_text_as_text_in_two_columns_numbered_on():
    from campaign.publication.pdf_list import ListLabels, draw_list

    labels = ListLabels(
        title="Titre (essai)",
        as_of="Liste au 8 décembre 2026",
        levels={"registry": "nom et numéro au répertoire RPPS", "none": "adresse non confirmée"},
        continued=lambda label: f"{label} (suite)",
    )

    def row(last, first, title=None, level="email", profession=None):
        return (last, first, title, None, "citizen", "2026-12-08", "salt", level, profession, None)

    rows = [
        row("Paren(thèse)", "Back\\slash", "Œnologue, <b>pas du HTML</b>", "registry", "Médecin"),
        row("Zola", "Émile", level="none"),
        *(row(f"Nom{n:04d}", "Prénom", "Chercheuse en santé publique " * 3) for n in range(300)),
    ]
    target = io.BytesIO()
    pages = draw_list([("Citoyennes et citoyens", iter(rows))], labels, target, first_page=3,
                      page_total=lambda drawn: drawn + 2)  # fmt: skip
    text = pdf_text(target.getvalue())
    flat = " ".join(text.split())
    assert pages > 1 and flat.count("Citoyennes et citoyens (suite)") == pages - 1
    assert "Paren(thèse) Back\\slash, Œnologue, <b>pas du HTML</b>" in flat
    assert "[✓ nom et numéro au répertoire RPPS · Médecin]" in flat
    assert "Zola Émile [adresse non confirmée]" in flat
    assert all(f"Nom{n:04d}" in flat for n in range(300))
    feet = ["".join(page.split())[-8:] for page in text.split("\f")[:-1]]
    assert all(foot.endswith(f"{n}/{pages + 2}") for n, foot in enumerate(feet, start=3))
