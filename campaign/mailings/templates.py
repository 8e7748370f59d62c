"""Letter templates: Jinja in the sandbox, with merge fields, checked before anything is sent.

Organisers write the subject and body of a mailing with merge fields such as
`{{ official.name }}` or `{{ petition.confirmed }}`. Templates run in Jinja's sandbox with
StrictUndefined, so a misspelt field is an error shown in the workspace before sending,
not a blank in 500 letters.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

# The fields offered to organisers, documented in the compose page and docs/mailings.md.
MERGE_FIELDS = (
    "official.name",
    "official.salutation",
    "official.civility",
    "official.first_name",
    "official.last_name",
    "official.role",
    "official.chamber",
    "official.departement",
    "official.constituency",
    "petition.title",
    "petition.url",
    "petition.confirmed",
    "petition.goal",
    "categories",
    "counts.<category>",
    "publication.url",
    "publication.sha256",
    "publication.sequence",
    "publication.count",
    "signatory.first_name",
    "signatory.last_name",
)

MAX_TEMPLATE_LENGTH = 20_000

_environment = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
)


class TemplateProblem(ValueError):
    """A template that cannot be rendered: bad syntax, an unknown field, or a forbidden
    operation. `part` is "subject" or "body"; `detail` is Jinja's own explanation."""

    def __init__(self, part: str, detail: str) -> None:
        super().__init__(f"{part}: {detail}")
        self.part = part
        self.detail = detail


@dataclass(frozen=True)
class RenderedLetter:
    subject: str
    text: str
    html: Markup


@functools.lru_cache(maxsize=64)
def _compiled(source: str) -> Template:
    # Compiling is most of the cost of a letter; a mailing renders the same source each time.
    return _environment.from_string(source)


def _render(source: str, context: dict[str, Any], part: str) -> str:
    if len(source) > MAX_TEMPLATE_LENGTH:
        raise TemplateProblem(part, f"longer than {MAX_TEMPLATE_LENGTH} characters")
    try:
        return _compiled(source).render(context)
    except TemplateError as error:
        raise TemplateProblem(part, str(error.message or error)) from error


def one_line(text: str) -> str:
    """Collapse every run of whitespace, CR and LF included, into one space: a subject or a
    display name can then never add a header."""
    return " ".join(text.split())


def text_to_html(text: str) -> Markup:
    """The plain-text body as escaped HTML paragraphs."""
    paragraphs = [part.strip("\n") for part in text.replace("\r\n", "\n").split("\n\n")]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in para.split("\n")))
        for para in paragraphs
        if para.strip()
    )


def render_letter(
    subject_template: str, body_template: str, context: dict[str, Any]
) -> RenderedLetter:
    """Render a subject and body for one recipient. Raises TemplateProblem.

    A line break typed into the subject template is refused; one brought in by a merge
    value is folded into a space, so no value can add a header."""
    if "\r" in subject_template or "\n" in subject_template:
        raise TemplateProblem("subject", "a subject is one line")
    subject = one_line(_render(subject_template, context, "subject"))
    if not subject:
        raise TemplateProblem("subject", "empty once rendered")
    text = _render(body_template, context, "body")
    if not text.strip():
        raise TemplateProblem("body", "empty once rendered")
    return RenderedLetter(subject=subject, text=text, html=text_to_html(text))
