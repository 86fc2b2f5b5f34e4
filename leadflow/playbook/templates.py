"""Message templates: Jinja2 in a sandbox, where an undefined variable is an error.

Pure and deterministic, so the engine renders bodies while deciding and `playbook check`
renders every template against sample contexts to catch typos at load time.

A playbook is written by an account, and its templates run in the worker's event loop
(and in the API's, where a lead's first decision is made), so rendering is bounded: every
loop step and call costs from a budget, the operators and methods that make big values
(`*`, `**`, `+`, `%`, `~`, `center`, `replace`...) are checked before they run, `range`
is short, and the output stops at `MAX_RENDERED_CHARS`. A template past a bound is a
`TemplateProblem`, like any other template error: never a hang or a MemoryError.
"""

from __future__ import annotations

import contextvars
import functools
import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

MAX_RENDERED_CHARS = 32_000  # a rendered body or subject, and any value made on the way
MAX_STEPS = 10_000  # loop steps and calls in one rendering
MAX_RANGE = 1_000  # the longest range() a template may ask for
MAX_WIDTH = 1_000  # a padding width, a repeat count, a format's field width
MAX_NUMBER_BITS = 128  # an integer a template computes
MAX_SMS_SEGMENTS = 10  # what one text may cost (Twilio's advice: 10 segments at most)

# GSM 03.38: a text of these alone goes as 7-bit (160 a segment, 153 when split); the
# extension's characters take two septets. Anything else makes the whole text UCS-2.
GSM7 = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"
_GSM7_ALL = frozenset(GSM7 + GSM7_EXTENSION)


class TemplateProblem(ValueError):
    """A template that does not compile, names something the context lacks, or goes past
    a bound."""


class _TooCostly(SecurityError):
    pass


_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_budget")


def _spend(steps: int = 1) -> None:
    left = _budget.get(None)
    if left is None:
        return
    left[0] -= steps
    if left[0] < 0:
        raise _TooCostly(f"the template takes more than {MAX_STEPS:,} loop steps and calls")


def _sized(value: Any) -> Any:
    if isinstance(value, str | list | tuple) and len(value) > MAX_RENDERED_CHARS:
        raise _TooCostly(f"the template makes a value of more than {MAX_RENDERED_CHARS:,} items")
    if isinstance(value, int) and value.bit_length() > MAX_NUMBER_BITS:
        raise _TooCostly("the template makes a number too large to write")
    return value


def _width(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WIDTH:
        raise _TooCostly(f"{value} is wider than a template may ask for (at most {MAX_WIDTH})")


# Field widths and precisions in a %-format or a str.format spec: `%0999d`, `{:>999}`.
_PERCENT_WIDTH = re.compile(r"%[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_SPEC = re.compile(r"\{[^{}]*:([^{}]*)\}")
_NESTED_SPEC = re.compile(r"\{[^{}]*:[^{}]*\{")


def _percent_format(text: str) -> None:
    for width, precision in _PERCENT_WIDTH.findall(text):
        for part in (width, precision):
            if part == "*":
                raise _TooCostly("a %-format may not take its width from an argument")
            if part:
                _width(int(part))


def _brace_format(text: str) -> None:
    if _NESTED_SPEC.search(text):
        raise _TooCostly("a format spec may not take its width from an argument")
    for spec in _FORMAT_SPEC.findall(text):
        for digits in re.findall(r"\d+", spec):
            _width(int(digits))


def _replaced_size(text: str, old: str, new: str, count: int = -1) -> int:
    hits = len(text) + 1 if old == "" else text.count(old)
    if count >= 0:
        hits = min(hits, count)
    return len(text) + hits * (len(new) - len(old))


_STR_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_WIDTH_FILTERS = frozenset({"center", "indent", "batch", "slice", "tojson", "wordwrap"})


def _guard_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps Jinja's pass_context/pass_environment marks
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _spend()
        if name in _WIDTH_FILTERS:
            for value in (*args[1:], *kwargs.values()):
                _width(value)
        texts = [a for a in args if isinstance(a, str)]
        if name == "format" and texts:
            _percent_format(texts[0])
        if name == "replace" and len(texts) >= 3:
            count = args[-1] if isinstance(args[-1], int) else kwargs.get("count", -1)
            if _replaced_size(texts[-3], texts[-2], texts[-1], count or -1) > MAX_RENDERED_CHARS:
                raise _TooCostly("the replacement makes a value too long")
        return _sized(function(*args, **kwargs))

    return guarded


def _steps(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _spend()
        yield item


def _range(*bounds: int) -> range:
    numbers = range(*bounds)
    if len(numbers) > MAX_RANGE:
        raise _TooCostly(f"range of {len(numbers):,} numbers; a template may take {MAX_RANGE:,}")
    return numbers


def _joined(parts: list[Any]) -> str:
    """`a ~ b`, told its size before it is built."""
    texts = [str(part) for part in parts]
    if sum(map(len, texts)) > MAX_RENDERED_CHARS:
        raise _TooCostly(f"the template makes a value of more than {MAX_RENDERED_CHARS:,} items")
    return "".join(texts)


class _Guarded(NodeTransformer):
    """Every `for` steps through the budget; `~` checks its size; recursive loops, which
    no message needs, are refused at compile time."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        if node.recursive:
            raise TemplateSyntaxError("recursive loops are not allowed", node.lineno)
        self.generic_visit(node)
        node.iter = nodes.Call(
            nodes.EnvironmentAttribute("bounded_steps"), [node.iter], [], None, None
        ).set_lineno(node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        joined = nodes.EnvironmentAttribute("bounded_join")
        return nodes.Call(joined, [nodes.List(node.nodes)], [], None, None).set_lineno(node.lineno)


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False)
        self.bounded_steps = _steps
        self.bounded_join = _joined
        self.globals = {k: v for k, v in self.globals.items() if k != "lipsum"}
        self.globals["range"] = _range
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        _spend()
        numbers = isinstance(left, int) and isinstance(right, int)
        if operator_ == "**":
            if numbers and abs(left) > 1 and right * math.log2(abs(left)) > MAX_NUMBER_BITS:
                raise _TooCostly("the template makes a number too large to write")
        elif operator_ == "*":
            for seq, times in ((left, right), (right, left)):
                repeated = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if repeated and len(seq) * times > MAX_RENDERED_CHARS:
                    raise _TooCostly("the repetition makes a value too long")
            if numbers and left.bit_length() + right.bit_length() > MAX_NUMBER_BITS:
                raise _TooCostly("the template makes a number too large to write")
        elif operator_ == "%" and isinstance(left, str):
            _percent_format(left)
        return _sized(_OPERATORS[operator_](left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _spend()
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            if name in _STR_WIDTH_METHODS:
                for value in (*args, *kwargs.values()):
                    _width(value)
            elif name == "replace" and len(args) >= 2:
                count = args[2] if len(args) > 2 else kwargs.get("count", -1)
                if _replaced_size(owner, str(args[0]), str(args[1]), count) > MAX_RENDERED_CHARS:
                    raise _TooCostly("the replacement makes a value too long")
        return _sized(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str) and getattr(value, "__name__", "") in ("format", "format_map"):
            _brace_format(owner)
        return super().wrap_str_format(value)


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "+": operator.add,
    "%": operator.mod,
    "//": operator.floordiv,
}

_ENV = _BoundedSandbox()


@lru_cache(maxsize=1024)
def _compiled(source: str) -> Any:
    tree = _Guarded().visit(_ENV.parse(source))
    return _ENV.from_string(tree)


def render(source: str, context: dict[str, Any], *, limit: int = MAX_RENDERED_CHARS) -> str:
    """The template rendered, at most `limit` characters; any error, a bound passed
    included, is a `TemplateProblem`."""
    token = _budget.set([MAX_STEPS])
    try:
        pieces: list[str] = []
        size = 0
        for piece in _compiled(source).generate(context):
            size += len(piece)
            if size > limit:
                raise TemplateProblem(f"renders to more than {limit:,} characters")
            pieces.append(piece)
        return "".join(pieces).strip()
    except TemplateProblem:
        raise
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"{exc.message} (line {exc.lineno})") from None
    except RecursionError:
        raise TemplateProblem("the template calls itself too deeply") from None
    except MemoryError:
        raise TemplateProblem("the template makes a value too large") from None
    except Exception as exc:  # an account's template: whatever it raises is its problem
        raise TemplateProblem(str(exc) or type(exc).__name__) from None
    finally:
        _budget.reset(token)


def sms_segments(text: str) -> tuple[int, str]:
    """How many segments a text goes as, and in which encoding: GSM-7 (160 characters, or
    153 a segment once split) or, with any other character, UCS-2 (70, or 67)."""
    if all(ch in _GSM7_ALL for ch in text):
        septets = len(text) + sum(ch in GSM7_EXTENSION for ch in text)
        return (1 if septets <= 160 else math.ceil(septets / 153)), "GSM-7"
    units = len(text.encode("utf-16-le")) // 2
    return (1 if units <= 70 else math.ceil(units / 67)), "UCS-2"


def text_problem(body: str) -> str | None:
    """Why a rendered text may not go (more than `MAX_SMS_SEGMENTS` segments), or None."""
    segments, encoding = sms_segments(body)
    if segments <= MAX_SMS_SEGMENTS:
        return None
    return (
        f"as a text it is {segments} segments ({len(body):,} characters, {encoding}); "
        f"a text may be at most {MAX_SMS_SEGMENTS}"
    )


def template_context(
    *,
    first_name: str | None,
    last_name: str | None,
    loan_purpose: str | None,
    milestone: str,
    status: str,
    role: str,
    party_name: str | None,
    sender_name: str,
    sender_phone: str | None,
    sender_email: str | None,
    key_dates: Mapping[str, date],
    campaign: str = "",
) -> dict[str, Any]:
    """Every variable a template may use (documented in the README), from the lead's facts.

    The engine renders with the lead's own; `playbook check` with `sample_contexts`, so a
    template that passes the check names only variables the engine fills."""
    full = " ".join(p for p in (first_name, last_name) if p)
    return {
        "lead": {
            "first_name": first_name or "there",
            "last_name": last_name or "",
            "full_name": full or "there",
            "name": full or "there",
            "loan_purpose": loan_purpose or "",
            "milestone": milestone,
            "status": status,
        },
        "party": {
            "role": role,
            "name": party_name or "there",
            "first_name": party_name.split()[0] if party_name and party_name.split() else "there",
            "last_name": party_name.split()[-1] if party_name and party_name.split() else "",
        },
        "sender": {
            "name": sender_name,
            "first_name": sender_name.split()[0] if sender_name.split() else sender_name,
            "phone": sender_phone or "",
            "email": sender_email or "",
        },
        "dates": {name: f"{day:%a %b} {day.day}" for name, day in key_dates.items()},
        "campaign": campaign,
    }


LONG_NAME = 200  # the longest first or last name a lead may have


def sample_context(key_dates: list[str], parties: list[str]) -> dict[str, Any]:
    """The context filled with examples, for checking templates before any lead exists."""
    return sample_contexts(key_dates, parties)[0][1]


def sample_contexts(key_dates: list[str], parties: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Leads a template must work for, each with what it stands for: the usual one, one
    with nothing optional filled, one with the longest names, one with names beyond
    GSM-7 (which makes a text UCS-2: 70 characters a segment, not 160)."""
    role = parties[0] if parties else "borrower"
    dates = dict.fromkeys(key_dates, date(2026, 3, 2))
    usual: dict[str, Any] = {
        "first_name": "Jordan",
        "last_name": "Example",
        "loan_purpose": "Purchase",
        "milestone": "Contacted",
        "status": "New",
        "role": role,
        "party_name": "Jordan Example",
        "sender_name": "Sam Sender",
        "sender_phone": "+15555550100",
        "sender_email": "sam@example.com",
        "key_dates": dates,
        "campaign": "campaign",
    }
    long_first, long_last = "J" * LONG_NAME, "E" * LONG_NAME
    leads = {
        "the sample lead": usual,
        "a lead with no name, loan purpose or sender contacts": usual
        | {
            "first_name": None,
            "last_name": None,
            "loan_purpose": None,
            "party_name": None,
            "sender_phone": None,
            "sender_email": None,
        },
        "a lead with the longest names": usual
        | {
            "first_name": long_first,
            "last_name": long_last,
            "party_name": f"{long_first} {long_last}",
            "sender_name": f"{'S' * 100} {'S' * 100}",
        },
        "a lead with names beyond GSM-7": usual
        | {
            "first_name": "Zoë",
            "last_name": "Nguyễn",
            "party_name": "Zoë Nguyễn",
            "sender_name": "Łukasz Øster",
        },
    }
    return [(said, template_context(**facts)) for said, facts in leads.items()]
