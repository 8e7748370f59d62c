"""Organisers' templates: the one sandboxed renderer of every letter, preview, test and check.

Organisers write the subject and body of a mailing with merge fields such as
`{{ official.name }}` or `{{ petition.confirmed }}`. Every such template, wherever it is
rendered (the compose page's check, the preview, the test letter, the send job, the draft a
supporter starts from), goes through `render_letter`, which runs it in Jinja's immutable
sandbox with bounds: a power, a product, a concatenation or a filter may not build a value
larger than `MAX_VALUE`; a render writes out at most `MAX_OUTPUT` characters (what a
`{% set %}` block or a macro captures included); loops and calls together take at most
`MAX_STEPS` turns and the whole render at most `MAX_SECONDS`. Everything that goes wrong,
down to a division by zero or a MemoryError, comes out as a `TemplateProblem` that says in
the organiser's language what to change.

The merge fields are plain data (`MergeFields` dictionaries of strings and numbers), so
a misspelt field names itself, with the nearest known one as a suggestion.
"""

from __future__ import annotations

import contextvars
import difflib
import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.filters import FILTERS
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from jinja2.visitor import NodeTransformer
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
# What each item of `categories` holds (a loop names it as it likes; messages say "category").
CATEGORY_FIELDS = ("key", "label", "count")
PUBLICATION_FIELDS = ("url", "sha256", "sequence", "count")

MAX_TEMPLATE_LENGTH = 20_000
# Bounds of one render (a subject or a body). A real letter stays far below each: a few
# thousand characters, a loop over a dozen categories.
MAX_VALUE = 100_000  # characters (and items) of any value the template builds
MAX_OUTPUT = 100_000  # characters written out, captured blocks and macros included
MAX_STEPS = 10_000  # loop turns, calls and look-ups
MAX_SECONDS = 1.0
MAX_RANGE = 1_000
MAX_INT_BITS = 4_096

# French words organisers type for a field, and the field's own name.
FRENCH_FIELD_NAMES = {
    "nom": "last_name",
    "prenom": "first_name",
    "prénom": "first_name",
    "nom_complet": "name",
    "civilite": "civility",
    "civilité": "civility",
    "fonction": "role",
    "role": "role",
    "rôle": "role",
    "chambre": "chamber",
    "circonscription": "constituency",
    "département": "departement",
    "titre": "title",
    "lien": "url",
    "adresse": "url",
    "objectif": "goal",
    "signatures": "confirmed",
    "signataires": "confirmed",
    "empreinte": "sha256",
    "numero": "sequence",
    "numéro": "sequence",
    "nombre": "count",
    "libelle": "label",
    "libellé": "label",
    "cle": "key",
    "clé": "key",
}


class ProblemKind(StrEnum):
    """What is wrong with a template."""

    SYNTAX = "syntax"
    UNKNOWN_FIELD = "unknown_field"
    NOT_PUBLISHED = "not_published"
    FORBIDDEN = "forbidden"
    TOO_MUCH_WORK = "too_much_work"
    TOO_LONG = "too_long"
    TOO_BIG = "too_big"
    CALCULATION = "calculation"
    SOURCE_TOO_LONG = "source_too_long"
    MULTILINE_SUBJECT = "multiline_subject"
    EMPTY = "empty"


class TemplateProblem(ValueError):
    """A template that cannot be rendered. `part` is "subject" or "body", `kind` says what
    is wrong, `field` and `suggestion` name a merge field and the nearest known one, `line`
    the line at fault; `detail` is an English explanation (logs, a failed delivery)."""

    def __init__(
        self,
        part: str,
        kind: ProblemKind,
        detail: str,
        *,
        field: str | None = None,
        suggestion: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(f"{part}: {detail}")
        self.part = part
        self.kind = kind
        self.detail = detail
        self.field = field
        self.suggestion = suggestion
        self.line = line

    def message(self) -> str:
        """What is wrong and what to do, in the current language."""
        kind, field = self.kind, self.field
        if kind == ProblemKind.UNKNOWN_FIELD and self.suggestion:
            return _(
                "%(field)s does not exist; did you mean %(suggestion)s?",
                field=f"{{{{ {field} }}}}",
                suggestion=f"{{{{ {self.suggestion} }}}}",
            )
        if kind == ProblemKind.UNKNOWN_FIELD:
            return _(
                "%(field)s does not exist: use one of the merge fields listed on this page.",
                field=f"{{{{ {field} }}}}",
            )
        if kind == ProblemKind.NOT_PUBLISHED:
            return _(
                "%(field)s has no value yet: the list of signatories has not been published. "
                "Publish it first, or write the field inside %(condition)s.",
                field=f"{{{{ {field} }}}}",
                condition="{% if publication %}…{% endif %}",
            )
        if kind == ProblemKind.SYNTAX:
            return _(
                "line %(line)s is not written as a template: check its braces (%(detail)s).",
                line=self.line or 1,
                detail=self.detail,
            )
        if kind == ProblemKind.FORBIDDEN:
            return _(
                "it uses something a letter may not do (%(detail)s): only merge fields, "
                "conditions, loops and filters that write text are allowed.",
                detail=self.detail,
            )
        if kind == ProblemKind.TOO_MUCH_WORK:
            return _(
                "it takes too much work to write out (more than %(steps)s loop turns or "
                "%(seconds)s second): simplify its loops.",
                steps=format_decimal(MAX_STEPS),
                seconds=format_decimal(MAX_SECONDS),
            )
        if kind == ProblemKind.TOO_LONG:
            return _(
                "it writes out more than %(max)s characters.",
                max=format_decimal(MAX_OUTPUT),
            )
        if kind == ProblemKind.TOO_BIG:
            return _(
                "a calculation in it makes a value far too large (a power, a repetition or "
                "a concatenation)."
            )
        if kind == ProblemKind.CALCULATION and self.detail == "division by zero":
            return _("a calculation in it divides by zero.")
        if kind == ProblemKind.CALCULATION:
            return _("a calculation in it fails (%(detail)s).", detail=self.detail)
        if kind == ProblemKind.SOURCE_TOO_LONG:
            return _(
                "it is longer than %(max)s characters.",
                max=format_decimal(MAX_TEMPLATE_LENGTH),
            )
        if kind == ProblemKind.MULTILINE_SUBJECT:
            return _("a subject is a single line.")
        return _("it is empty once written out.")


@dataclass(frozen=True)
class RenderedLetter:
    subject: str
    text: str
    html: Markup


# ---------------------------------------------------------------------------------------
# Merge fields as plain data


class MergeFields(dict):
    """A group of merge fields (`official`, `petition`...): a dictionary of plain values
    that knows its name, so that a missing key names the whole field it was asked as."""

    def __init__(self, path: str, values: dict[str, Any]) -> None:
        super().__init__(values)
        # Underscored: the sandbox never lets a template read it.
        self._path = path

    def __missing__(self, key: object) -> MissingField:
        return MissingField(name=f"{self._path}.{key}")


class FieldError(UndefinedError):
    """A merge field that cannot be written out; `field` names it."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class UnknownField(FieldError):
    """No such merge field."""


class NotPublished(FieldError):
    """A publication field before the list was first published."""


class MissingField(StrictUndefined):
    """An undefined value named by the merge field it was asked as; an error wherever it is
    used, as with StrictUndefined, but one that says which field."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[Exception] | None = None,
    ) -> None:
        super().__init__(hint, obj, name, exc or UnknownField)

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        return str(self._undefined_name)


class Unpublished:
    """`publication` before the petition's list was first published: false in an
    `{% if publication %}`, an error that says so wherever one of its fields is written."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise NotPublished(f"publication.{name}")

    def __getitem__(self, name: object) -> Any:
        raise NotPublished(f"publication.{name}")

    def __str__(self) -> str:
        raise NotPublished("publication")

    def __iter__(self) -> Iterator[Any]:
        raise NotPublished("publication")


def known_fields(context: dict[str, Any]) -> list[str]:
    """Every merge field a template rendered with `context` may use, as written."""
    known: list[str] = []
    for name, value in context.items():
        known.append(name)
        if isinstance(value, MergeFields):
            known.extend(f"{name}.{key}" for key in value)
        elif isinstance(value, Unpublished):
            known.extend(f"{name}.{key}" for key in PUBLICATION_FIELDS)
        elif name == "categories":
            known.extend(f"category.{key}" for key in CATEGORY_FIELDS)
    return known


def suggestion_for(field: str, known: Iterable[str]) -> str | None:
    """The known field nearest to `field` (a French word is taken for its English field)."""
    known = list(known)
    head, _dot, tail = field.rpartition(".")
    translated = FRENCH_FIELD_NAMES.get(tail.casefold())
    if head and translated and f"{head}.{translated}" in known:
        return f"{head}.{translated}"
    same_group = [name for name in known if head and name.startswith(f"{head}.")]
    for candidates in (same_group, known):
        matches = difflib.get_close_matches(field, candidates, n=1, cutoff=0.6)
        if matches:
            return matches[0]
    return None


# ---------------------------------------------------------------------------------------
# The bounds of one render


class RenderBoundExceeded(SecurityError):
    """A render went past one of its bounds; `kind` says which."""

    def __init__(self, kind: ProblemKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass
class _Budget:
    deadline: float
    steps: int = MAX_STEPS
    output: int = MAX_OUTPUT

    def tick(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise RenderBoundExceeded(ProblemKind.TOO_MUCH_WORK, f"more than {MAX_STEPS} steps")
        if time.monotonic() > self.deadline:
            raise RenderBoundExceeded(
                ProblemKind.TOO_MUCH_WORK, f"more than {MAX_SECONDS} s of rendering"
            )


# One budget per render in progress; a context variable, so that threads and jobs rendering
# at once each have their own.
_budget: contextvars.ContextVar[_Budget] = contextvars.ContextVar("template_budget")


def _tick() -> None:
    _budget.get().tick()


def _weight(value: Any, limit: int = MAX_VALUE) -> int:
    """The size of a value once written out, roughly (characters, plus one per item), counted
    only until it passes `limit`: a structure that shares itself many times costs nothing
    to measure."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 1
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 1
            stack.extend(item)
        elif isinstance(item, dict):
            total += 1
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            total += 1
        if total > limit:
            return total
    return total


def _too_big(detail: str) -> RenderBoundExceeded:
    return RenderBoundExceeded(ProblemKind.TOO_BIG, detail)


def _sized(value: Any) -> Any:
    if _weight(value) > MAX_VALUE:
        raise _too_big(f"a value larger than {MAX_VALUE} characters")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _too_big(f"a number of more than {MAX_INT_BITS} bits")
    return value


def _check_power(left: Any, right: Any) -> None:
    integers = isinstance(left, int) and isinstance(right, int)
    if integers and abs(left) > 1 and right > 0 and abs(left).bit_length() * right > MAX_INT_BITS:
        raise _too_big(f"{left} ** {right}")


def _check_product(left: Any, right: Any) -> None:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _too_big("a product of more than 4096 bits")
        return
    for sequence, times in ((left, right), (right, left)):
        repeated = isinstance(times, int) and isinstance(sequence, (str, list, tuple))
        if repeated and times > 0 and _weight(sequence) * times > MAX_VALUE:
            raise _too_big(f"a repetition of more than {MAX_VALUE} characters")


# A width or precision of four digits or more, or taken from the arguments (`*`).
_WIDE_FORMAT = re.compile(r"%(\([^)]*\))?[#0 +\-]*(\*|\d{4,}|\d*\.(\*|\d{4,}))")


def _check_format(left: str, right: Any) -> None:
    if _WIDE_FORMAT.search(left):
        raise _too_big("a %-format with a very wide field")
    if len(left) + left.count("%") * _weight(right) > MAX_VALUE:
        raise _too_big(f"a %-format of more than {MAX_VALUE} characters")


# ---------------------------------------------------------------------------------------
# Filters and attributes a letter may use

# Filters that only write text out of a bounded value; the others (center, indent, format,
# wordwrap, batch, slice, random, urlize, tojson, xmlattr, pprint) are left out: they pad,
# multiply, or make a preview differ from the letter sent.
SAFE_FILTERS = [
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "filesizeformat",
    "first",
    "float",
    "forceescape",
    "groupby",
    "int",
    "items",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "sort",
    "string",
    "striptags",
    "title",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "wordcount",
]

SAFE_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        [
            "capitalize",
            "casefold",
            "count",
            "endswith",
            "find",
            "index",
            "isalnum",
            "isalpha",
            "isdecimal",
            "isdigit",
            "islower",
            "isnumeric",
            "isspace",
            "istitle",
            "isupper",
            "lower",
            "lstrip",
            "partition",
            "removeprefix",
            "removesuffix",
            "rfind",
            "rindex",
            "rpartition",
            "rsplit",
            "rstrip",
            "split",
            "splitlines",
            "startswith",
            "strip",
            "swapcase",
            "title",
            "upper",
        ]
    ),
    dict: frozenset({"get", "items", "keys", "values"}),
    list: frozenset({"count", "index"}),
    tuple: frozenset({"count", "index"}),
}


def _bounded_filter(function: Callable) -> Callable:
    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        for argument in (*args, *kwargs.values()):
            if isinstance(argument, (str, list, tuple, dict)) and _weight(argument) > MAX_VALUE:
                raise _too_big("a filter given too large a value")
        return _sized(function(*args, **kwargs))

    return bounded


def _join(value: Iterable[Any], d: str = "", attribute: str | None = None) -> str:
    items = list(value) if attribute is None else [item[attribute] for item in value]
    if _weight(items) + len(str(d)) * len(items) > MAX_VALUE:
        raise _too_big("a join of more than 100 000 characters")
    return str(d).join(str(item) for item in items)


def _replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    text, old, new = str(value), str(old), str(new)
    occurrences = (len(text) + 1) if not old else text.count(old)
    if count is not None and count >= 0:
        occurrences = min(occurrences, count)
    if len(text) + occurrences * max(len(new) - len(old), 0) > MAX_VALUE:
        raise _too_big("a replacement of more than 100 000 characters")
    return text.replace(old, new, -1 if count is None else count)


def _sum(values: Iterable[Any], attribute: str | None = None, start: int | float = 0) -> Any:
    # Numbers only: a sum of lists or strings is a quadratic way to build a large value.
    if not isinstance(start, (int, float)):
        raise RenderBoundExceeded(ProblemKind.FORBIDDEN, "sum of something else than numbers")
    total = start
    for item in values:
        _tick()
        item = item[attribute] if attribute is not None else item
        if not isinstance(item, (int, float)):
            raise RenderBoundExceeded(ProblemKind.FORBIDDEN, "sum of something else than numbers")
        total = _sized(total + item)
    return total


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise RenderBoundExceeded(
            ProblemKind.TOO_MUCH_WORK, f"a range of more than {MAX_RANGE} numbers"
        )
    return numbers


# ---------------------------------------------------------------------------------------
# The environment


class _Bounds(NodeTransformer):
    """Rewrites a parsed template so that each loop turn, each piece of output and each
    `~` concatenation passes through the environment's bounds."""

    FORBIDDEN = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)

    def generic_visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> nodes.Node:
        if isinstance(node, self.FORBIDDEN):
            raise TemplateSyntaxError(
                "forbidden: {% extends %}, {% include %} and {% import %}", node.lineno
            )
        return super().generic_visit(node, *args, **kwargs)

    @staticmethod
    def _through(name: str, *args: nodes.Expr, lineno: int) -> nodes.Call:
        call = nodes.Call(nodes.EnvironmentAttribute(name), list(args), [], None, None)
        return call.set_lineno(lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = self.generic_visit(node)
        node.iter = self._through("looped", node.iter, lineno=node.lineno)
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        node = self.generic_visit(node)
        node.nodes = [
            self._through(
                "emitted",
                nodes.Const(child.data) if isinstance(child, nodes.TemplateData) else child,
                lineno=child.lineno or node.lineno,
            )
            for child in node.nodes
        ]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = self.generic_visit(node)
        return self._through("joined", *node.nodes, lineno=node.lineno)

    def _sized_literal(self, node: nodes.Expr) -> nodes.Node:
        node = self.generic_visit(node)
        return self._through("sized", node, lineno=node.lineno)

    visit_List = visit_Tuple = visit_Dict = _sized_literal


# The environment's own hooks the rewritten template calls; called directly, not through
# the sandbox's `call` (which would check them, and count them, at every piece of output).
_HOOKS = frozenset({"looped", "emitted", "joined", "sized"})


class _BoundedCodeGenerator(CodeGenerator):
    def visit_Call(self, node: nodes.Call, frame: Frame, forward_caller: bool = False) -> None:
        if isinstance(node.node, nodes.EnvironmentAttribute) and node.node.name in _HOOKS:
            self.write(f"environment.{node.node.name}(")
            for index, argument in enumerate(node.args):
                if index:
                    self.write(", ")
                self.visit(argument, frame)
            self.write(")")
            return
        super().visit_Call(node, frame, forward_caller=forward_caller)


class LetterEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox (no method that changes a list or a dictionary), with the
    bounds of one render: sizes of powers, products, concatenations and filter results,
    output, loop turns and time; only text filters and read-only methods."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self) -> None:
        super().__init__(undefined=MissingField, autoescape=False, keep_trailing_newline=True)
        self.filters = {name: _bounded_filter(FILTERS[name]) for name in SAFE_FILTERS}
        self.filters.update(join=_join, replace=_replace, sum=_sum)
        # lipsum, cycler, joiner and namespace go: namespace() would let a loop grow a value
        # turn after turn.
        self.globals = {"range": _range, "dict": dict}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        tree = _Bounds().visit(tree)
        tree.set_environment(self)
        return tree

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        for kind, allowed in SAFE_METHODS.items():
            if isinstance(obj, kind):
                return not callable(value) or attr in allowed
        # Methods of numbers (int.to_bytes makes a value of any size) and of the rest.
        return not (callable(value) and isinstance(obj, (int, float, bytes, set, frozenset)))

    def wrap_str_format(self, value: Any) -> None:
        # str.format pads to any width ('{:>999999999}'): not offered, not even sandboxed.
        return None

    def call(__self, __context, __obj, *args: Any, **kwargs: Any) -> Any:
        _tick()
        return _sized(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "**":
            _check_power(left, right)
        elif operator == "*":
            _check_product(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_format(left, right)
        return _sized(super().call_binop(context, operator, left, right))

    # Reached from the rewritten template (environment.<name>), never by a template's name.

    def looped(self, iterable: Any) -> Iterator[Any]:
        for item in iterable:
            _tick()
            yield item

    def emitted(self, value: Any) -> str:
        budget = _budget.get()
        budget.tick()
        if _weight(value, budget.output) > budget.output:
            raise RenderBoundExceeded(ProblemKind.TOO_LONG, f"more than {MAX_OUTPUT} characters")
        text = str(value)
        budget.output -= len(text)
        if budget.output < 0:
            raise RenderBoundExceeded(ProblemKind.TOO_LONG, f"more than {MAX_OUTPUT} characters")
        return text

    def joined(self, *values: Any) -> str:
        _tick()
        if sum(_weight(value) for value in values) > MAX_VALUE:
            raise _too_big(f"a concatenation of more than {MAX_VALUE} characters")
        return "".join(str(value) for value in values)

    def sized(self, value: Any) -> Any:
        return _sized(value)


_environment = LetterEnvironment()


@functools.lru_cache(maxsize=64)
def _compiled(source: str) -> Template:
    # Compiling is most of the cost of a letter; a mailing renders the same source each time.
    return _environment.from_string(source)


def _problem(part: str, error: BaseException, context: dict[str, Any]) -> TemplateProblem:
    """The TemplateProblem that explains `error`, raised while rendering `part`."""
    if isinstance(error, TemplateSyntaxError):
        detail = str(error.message or error)
        offered = not detail.startswith(("forbidden", "No filter named", "No test named"))
        kind = ProblemKind.SYNTAX if offered else ProblemKind.FORBIDDEN
        return TemplateProblem(part, kind, detail, line=error.lineno)
    if isinstance(error, NotPublished):
        return TemplateProblem(
            part,
            ProblemKind.NOT_PUBLISHED,
            f"{error.field}: the list has not been published yet",
            field=error.field,
        )
    if isinstance(error, UnknownField):
        suggestion = suggestion_for(error.field, known_fields(context))
        hint = f"; did you mean {suggestion}?" if suggestion else ""
        return TemplateProblem(
            part,
            ProblemKind.UNKNOWN_FIELD,
            f"{error.field} does not exist{hint}",
            field=error.field,
            suggestion=suggestion,
        )
    if isinstance(error, RenderBoundExceeded):
        return TemplateProblem(part, error.kind, str(error))
    if isinstance(error, SecurityError):
        return TemplateProblem(part, ProblemKind.FORBIDDEN, str(error.message or error))
    if isinstance(error, (MemoryError, OverflowError)):
        return TemplateProblem(part, ProblemKind.TOO_BIG, type(error).__name__)
    if isinstance(error, RecursionError):
        return TemplateProblem(part, ProblemKind.TOO_MUCH_WORK, "recursion too deep")
    if isinstance(error, ZeroDivisionError):
        return TemplateProblem(part, ProblemKind.CALCULATION, "division by zero")
    return TemplateProblem(part, ProblemKind.CALCULATION, f"{type(error).__name__}: {error}")


def _render(source: str, context: dict[str, Any], part: str) -> str:
    if len(source) > MAX_TEMPLATE_LENGTH:
        raise TemplateProblem(
            part, ProblemKind.SOURCE_TOO_LONG, f"longer than {MAX_TEMPLATE_LENGTH} characters"
        )
    token = _budget.set(_Budget(deadline=time.monotonic() + MAX_SECONDS))
    try:
        return _compiled(source).render(context)
    except Exception as error:
        raise _problem(part, error, context) from error
    finally:
        _budget.reset(token)


def used_fields(source: str) -> set[str]:
    """The merge fields `group.name` a template writes (read from its text, not rendered);
    empty when it cannot be parsed."""
    try:
        tree = _environment.parse(source)
    except TemplateSyntaxError:
        return set()
    fields = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name):
            fields.add(f"{node.node.name}.{node.attr}")
    for node in tree.find_all(nodes.Getitem):
        if isinstance(node.node, nodes.Name) and isinstance(node.arg, nodes.Const):
            fields.add(f"{node.node.name}.{node.arg.value}")
    return fields


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
    """Render a subject and body for one recipient, within the bounds above. Raises
    TemplateProblem, whatever went wrong.

    A line break typed into the subject template is refused; one brought in by a merge
    value is folded into a space, so no value can add a header."""
    if "\r" in subject_template or "\n" in subject_template:
        raise TemplateProblem("subject", ProblemKind.MULTILINE_SUBJECT, "a subject is one line")
    subject = one_line(_render(subject_template, context, "subject"))
    if not subject:
        raise TemplateProblem("subject", ProblemKind.EMPTY, "empty once rendered")
    text = _render(body_template, context, "body")
    if not text.strip():
        raise TemplateProblem("body", ProblemKind.EMPTY, "empty once rendered")
    return RenderedLetter(subject=subject, text=text, html=text_to_html(text))
