"""What typed text may hold: the rules shared by the forms, the CSV imports and the press
files (names that render as one line of text, no links in a person's name, no cell that a
spreadsheet would run as a formula)."""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

# Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection"),
# with their full-width forms, which some spreadsheets fold to ASCII.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
FORMULA_CHARACTERS = frozenset(FORMULA_TRIGGERS)

URL_PATTERN = re.compile(r"(://|www\.|\b[\w-]+\.(com|net|org|fr|io|info|ru|xyz|biz)\b)", re.I)
# What an organisation's name may not hold: a scheme (https://, javascript:...) or a domain
# followed by a path. A bare domain is how some collectives name themselves.
LINK_PATTERN = re.compile(
    r"(://|\b(https?|ftp|javascript|data|mailto|file|vbscript):|\b[\w-]+(\.[\w-]+)+/)", re.I
)


# Controls, invisible formatting (bidi overrides, zero-width...), line and paragraph
# separators, private-use, unassigned and surrogate code points.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})
# Letters and symbols that render as nothing: a name of them alone shows blank.
INVISIBLE_CHARACTERS = frozenset(
    "\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0\U0001d159\U0001d173\U0001d174"
    "\U0001d175\U0001d176\U0001d177\U0001d178\U0001d179\U0001d17a"
)
# More combining marks on one letter than any language writes ("Zalgo" text overflows lines).
MAX_COMBINING_RUN = 3


def _combining_run_too_long(value: str) -> bool:
    run = 0
    for char in value:
        run = run + 1 if unicodedata.combining(char) else 0
        if run > MAX_COMBINING_RUN:
            return True
    return False


def has_control_characters(value: str, *, allowed: str = "") -> bool:
    """Whether the text holds characters that do not render as text of one line: controls,
    invisible formatting (bidi overrides), line separators, invisible letters (the Hangul
    filler), or a long run of combining marks. `allowed` names exceptions (newlines in a
    multi-line field)."""
    return any(
        (unicodedata.category(char) in REFUSED_CATEGORIES or char in INVISIBLE_CHARACTERS)
        and char not in allowed
        for char in value
    ) or _combining_run_too_long(value)


def contains_web_address(value: str) -> bool:
    """Whether the text looks like it holds a link."""
    return URL_PATTERN.search(value) is not None


def contains_link(value: str) -> bool:
    """Whether the text holds a link proper: a scheme, or a domain with a path."""
    return LINK_PATTERN.search(value) is not None


def is_email_address(value: str) -> bool:
    """Valid address syntax, and a mailbox name Tribune can send to; no DNS query, since
    Tribune makes no request to third parties."""
    if not has_ascii_mailbox(value):
        return False
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def has_ascii_mailbox(value: str) -> bool:
    """Whether the part before the @ is plain ASCII. An accented domain is fine (it is sent
    in its ASCII form); an accented mailbox name ("josé@...") needs SMTPUTF8, which Tribune's
    mail path does not speak and which few French providers accept."""
    return value.rpartition("@")[0].isascii()
