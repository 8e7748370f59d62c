"""The French and English catalogues cover every string of the current source.

The messages are extracted with Babel from campaign/ and templates/ as `make extract` does
(babel.cfg), so a string added without running `make extract` and translating it fails here,
with the list of what is missing."""

from __future__ import annotations

import gettext
import re
from collections import Counter
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "campaign" / "translations"
LANGUAGES = ("fr", "en")
PLURAL_FORMS = {"fr": "nplurals=2; plural=(n > 1);", "en": "nplurals=2; plural=(n != 1);"}
# The same keywords as `pybabel extract -k _l -k lazy_gettext -k lazy_pgettext:1c,2`
# (Makefile, target extract).
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_l": None,
    "lazy_gettext": None,
    "lazy_pgettext": ((1, "c"), 2),
}
# French strings that are genuinely spelled as in English.
SAME_IN_FRENCH = {"%(num)s signature", "Version %(number)s", "version %(version)s, SHA-256"}
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def po_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"


def load(language: str) -> Catalog:
    with po_path(language).open("rb") as po:
        return read_po(po, locale=language)


@pytest.fixture(scope="module")
def catalogs() -> dict[str, Catalog]:
    return {language: load(language) for language in LANGUAGES}


def _extraction_mapping() -> tuple[list[tuple[str, str]], dict[str, dict[str, str]]]:
    """babel.cfg, made strict for templates: a template that the Jinja extractor cannot
    parse must fail here instead of being skipped silently with all its strings."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    for pattern, method in method_map:
        if method == "jinja2":
            options = options_map.setdefault(pattern, {})
            options["silent"] = "false"
            # The extensions the application enables (campaign._configure_templates).
            extensions = options.get("extensions", "")
            if "jinja2.ext.do" not in extensions:
                options["extensions"] = ",".join(filter(None, [extensions, "jinja2.ext.do"]))
    return method_map, options_map


@pytest.fixture(scope="module")
def source_messages() -> dict[tuple[str | tuple[str, ...], str | None], list[str]]:
    """Every message of the current source: (id, context) -> ['file:line', ...]."""
    method_map, options_map = _extraction_mapping()
    found: dict[tuple[str | tuple[str, ...], str | None], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        if isinstance(message, tuple):
            message = tuple(part for part in message if part)
            message = message[0] if len(message) == 1 else message
        found.setdefault((message, context), []).append(f"{filename}:{lineno}")
    assert found, "no message extracted: check babel.cfg"
    return found


def placeholders(text: str) -> Counter:
    return Counter(match.group(0) for match in PLACEHOLDER.finditer(text.replace("%%", "")))


def forms(message: Message) -> list[tuple[str, str]]:
    """(msgid, msgstr) per form; a plural form is compared with the plural msgid."""
    if not message.pluralizable:
        return [(message.id, message.string or "")]
    ids = message.id
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return [(ids[min(i, len(ids) - 1)], string or "") for i, string in enumerate(strings)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_header(catalogs, language):
    catalog = catalogs[language]
    header = dict(catalog.mime_headers)
    assert header["Language"] == language
    assert header["Plural-Forms"] == PLURAL_FORMS[language]
    assert not catalog.fuzzy, f"{po_path(language).relative_to(ROOT)}: the header is fuzzy"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_source_message_is_translated(catalogs, source_messages, language):
    catalog = catalogs[language]
    problems = []
    for (msgid, context), places in sorted(source_messages.items(), key=lambda item: item[1]):
        where = ", ".join(places)
        message = catalog.get(msgid, context)
        if message is None:
            problems.append(f"missing: {msgid!r} ({where})")
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {msgid!r} ({where})")
        if isinstance(msgid, tuple) != message.pluralizable or (
            message.pluralizable and tuple(message.id) != msgid
        ):
            problems.append(f"plural mismatch: {msgid!r} vs {message.id!r} ({where})")
            continue
        strings = message.string if message.pluralizable else (message.string,)
        if message.pluralizable and len(strings) != catalog.num_plurals:
            problems.append(f"{len(strings)} plural forms, not {catalog.num_plurals}: {msgid!r}")
        if not all(string and string.strip() for string in strings):
            problems.append(f"untranslated: {msgid!r} ({where})")
            continue
        for source, string in forms(message):
            if placeholders(source) != placeholders(string):
                problems.append(
                    f"placeholders differ: {source!r} -> {string!r} "
                    f"({sorted(placeholders(source).elements())} vs "
                    f"{sorted(placeholders(string).elements())}) ({where})"
                )
    assert not problems, (
        f"{po_path(language).relative_to(ROOT)}: {len(problems)} problem(s); run `make extract`, "
        "translate, then `make translations`:\n  " + "\n  ".join(problems)
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_fuzzy_or_empty_entry(catalogs, language):
    """Also the entries that the source no longer uses (obsolete ones are not kept: -N)."""
    bad = [
        message.id
        for message in catalogs[language]
        if message.id and (message.fuzzy or not all(string for _id, string in forms(message)))
    ]
    assert not bad, f"{po_path(language).relative_to(ROOT)}: fuzzy or empty: {bad}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_babel_checks_pass(catalogs, language):
    """Babel's own checkers: python-format consistency and number of plural forms."""
    errors = [
        f"{message.id!r}: {'; '.join(str(error) for error in message_errors)}"
        for message, message_errors in catalogs[language].check()
    ]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_compiles(catalogs, language):
    mo = BytesIO()
    write_mo(mo, catalogs[language])
    mo.seek(0)
    translations = gettext.GNUTranslations(mo)
    assert translations.gettext("Open petitions")
    assert translations.ngettext("%(num)d result", "%(num)d results", 2) % {"num": 2}


def test_english_catalogue_is_the_source(catalogs):
    different = [
        (message.id, message.string)
        for message in catalogs["en"]
        if message.id
        and (
            (message.pluralizable and tuple(message.string) != tuple(message.id))
            or (not message.pluralizable and message.string != message.id)
        )
    ]
    assert not different, different


def test_french_is_not_a_copy_of_english(catalogs):
    """A cheap "forgot to translate" check, for strings long enough to tell."""
    copied = [
        source
        for message in catalogs["fr"]
        if message.id
        and (message.id[0] if message.pluralizable else message.id) not in SAME_IN_FRENCH
        for source, string in forms(message)
        if len(source) > 12 and string == source
    ]
    assert not copied, f"left in English in the French catalogue: {copied}"


def test_french_typography(catalogs):
    """A narrow no-break space before ; ! ?, a no-break space before : and inside « »,
    and « » rather than straight quotes."""
    rules = [
        (re.compile(r"(?<!\u202f)[;!?](?=\s|$)"), "no narrow no-break space before ; ! ?"),
        (re.compile(r"(?<!\u00a0):(?=\s|$)"), "no no-break space before :"),
        (re.compile(r"«(?!\u00a0)|(?<!\u00a0)»"), "no no-break space inside « »"),
        (re.compile(r"\""), "straight quotes instead of « »"),
    ]
    problems = [
        f"{reason}: {string!r}"
        for message in catalogs["fr"]
        if message.id
        for _source, string in forms(message)
        for pattern, reason in rules
        if pattern.search(string)
    ]
    assert not problems, "\n".join(problems)


def test_pages_render_in_french_by_default_and_in_english_on_request(client):
    """Through the application, with the compiled catalogues (`make translations`)."""
    for language in LANGUAGES:
        mo = po_path(language).with_suffix(".mo")
        assert mo.exists() and mo.stat().st_mtime >= po_path(language).stat().st_mtime, (
            f"{mo.relative_to(ROOT)} is missing or older than its .po: run `make translations`"
        )
    french = load("fr").get("Open petitions").string
    assert french and french != "Open petitions"

    english_page = client.get("/", headers={"Accept-Language": "en"})
    assert english_page.status_code == 200
    assert '<html lang="en">' in english_page.text
    assert "Open petitions" in english_page.text

    french_page = client.get("/")
    assert french_page.status_code == 200
    assert '<html lang="fr">' in french_page.text
    assert french in french_page.text
    assert "Open petitions" not in french_page.text
