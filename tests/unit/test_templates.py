"""Templates are an account's code: whatever one asks for, rendering ends soon with the text
or a `TemplateProblem`, never a hang or a MemoryError; a text past its segments is not sent."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from leadflow.engine.commands import Audit, SendMessage
from leadflow.engine.preview import sample_lead, timeline
from leadflow.playbook.load import default_playbook
from leadflow.playbook.templates import (
    MAX_RENDERED_CHARS,
    TemplateProblem,
    render,
    sample_contexts,
    sms_segments,
)

CONTEXT = sample_contexts([], ["borrower"])[0][1]

COSTLY = [
    "{{ 'x' * 10**9 }}",
    "{{ [1] * 999999999 }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ range(10**9) | list }}",
    "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
    "{% set s = 'ab' * 500 %}{% for a in s %}{% for b in s %}{% for c in s %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
    "{% macro f() %}{{ f() }}{{ f() }}{% endmacro %}{{ f() }}",
    "{{ 'a' | center(999999999) }}",
    "{{ 'a'.ljust(999999999) }}",
    "{{ 'a' | indent(999999999) }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '%0999999999d' | format(1) }}",
    "{{ '%*d' % (999999999, 1) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ ('x' * 1000).replace('', 'y' * 1000) }}",
    "{{ ('x' * 1000) | replace('', 'y' * 1000) }}",
    "{{ range(10) | batch(999999999, 'x') | list }}",
    "{% set a = 'x' * 1000 %}{% set b = a ~ a ~ a ~ a %}{% set c = b ~ b ~ b ~ b %}"
    "{% set d = c ~ c ~ c ~ c %}{{ d }}",
    "{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}",
    "{{ lipsum(10**6) }}",
    "{{ 'a' + 1 }}",
]


@pytest.mark.parametrize("source", COSTLY)
def test_a_costly_template_is_a_problem_at_once(source: str) -> None:
    began = time.monotonic()
    with pytest.raises(TemplateProblem):
        render(source, CONTEXT)
    assert time.monotonic() - began < 2


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Hi {{ lead.first_name }}", "Hi Jordan"),
        ("{{ '{:,}'.format(250000) }}", "250,000"),
        ("{{ '%d' | format(250000) }}", "250000"),
        ("{{ lead.first_name | upper }}{{ '-' * 3 }}", "JORDAN---"),
        ("{% for w in lead.full_name.split() %}{{ w[0] }}{% endfor %}", "JE"),
        ("{{ lead.first_name ~ '!' }}", "Jordan!"),
    ],
)
def test_what_messages_use_still_renders(source: str, expected: str) -> None:
    assert render(source, CONTEXT) == expected


def test_the_output_is_bounded() -> None:
    with pytest.raises(TemplateProblem, match="more than"):
        render("x" * (MAX_RENDERED_CHARS + 1), CONTEXT)


@pytest.mark.parametrize(
    ("text", "segments", "encoding"),
    [
        ("a" * 160, 1, "GSM-7"),
        ("a" * 161, 2, "GSM-7"),
        ("a" * 306, 2, "GSM-7"),
        ("a" * 307, 3, "GSM-7"),
        ("€" * 80, 1, "GSM-7"),  # the extension's characters take two septets
        ("€" * 81, 2, "GSM-7"),
        ("ë" * 70, 1, "UCS-2"),
        ("ë" * 71, 2, "UCS-2"),
        ("a" * 134 + "ë", 3, "UCS-2"),
        ("😀" * 35, 1, "UCS-2"),  # a character beyond the BMP is two UCS-2 units
    ],
)
def test_segments_count_as_carriers_do(text: str, segments: int, encoding: str) -> None:
    assert sms_segments(text) == (segments, encoding)


def _first_texts(body: str, **facts: object) -> tuple[list[SendMessage], list[Audit]]:
    """The isa playbook's first day with `intro_sms` replaced (unchecked, as a stored
    version from before the check would be)."""
    book = default_playbook("isa")
    templates = dict(book.templates)
    templates["intro_sms"] = templates["intro_sms"].model_copy(update={"body": body})
    book = book.model_copy(update={"templates": templates})
    start = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # Monday 10:00 in Chicago
    entries = timeline(book, sample_lead(book, **facts), start, 1)
    texts = [e.command for e in entries if isinstance(e.command, SendMessage)]
    audits = [e.command for e in entries if isinstance(e.command, Audit)]
    return [t for t in texts if t.channel == "sms"], audits


def test_a_costly_template_skips_its_touch_at_send_time() -> None:
    began = time.monotonic()
    texts, audits = _first_texts("{{ 'x' * 10**9 }}")
    assert time.monotonic() - began < 5
    assert not texts
    assert any(
        a.outcome == "skipped" and "template intro_sms" in a.reason and "too long" in a.reason
        for a in audits
    ), audits


def test_a_text_past_its_segments_is_skipped_not_sent() -> None:
    texts, audits = _first_texts("Hi {{ lead.first_name }}, " + "ë" * 700)
    assert not texts
    assert any("segments" in a.reason and a.outcome == "skipped" for a in audits), audits
    texts, _ = _first_texts("Hi {{ lead.first_name }}, " + "n" * 700)
    assert len(texts) == 1  # five GSM-7 segments go
