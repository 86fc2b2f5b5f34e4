"""A file of leads read for an import: its columns mapped to a lead's fields, every line
checked as `PUT /v1/leads/{id}` checks its body (the same model, the same messages, with
the line number), and the lines that repeat an earlier one found. Nothing here starts a
lead: `importer` does, at a steady rate, for the lines that pass."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from leadflow.api.intake import LeadIn
from leadflow.engine.refs import IDENTIFIER

# The fields a column may fill, and the headers each is found under when not mapped.
FIELDS: dict[str, tuple[str, ...]] = {
    "lead_id": ("lead id", "id", "crm id"),
    "first_name": ("first name", "firstname", "first"),
    "last_name": ("last name", "lastname", "last", "surname"),
    "phone": ("phone", "mobile", "cell", "phone number"),
    "email": ("email", "email address", "e-mail"),
    "time_zone": ("time zone", "timezone"),
    "region": ("region", "state", "province"),
    "source": ("source", "lead source"),
    "loan_purpose": ("loan purpose",),
    "language": ("language",),
    "price": ("price",),
    "tags": ("tags",),
    "milestone": ("milestone",),
    "status": ("status",),
    "sms_consent": ("sms consent", "texts ok"),
    "consent_given_at": ("consent given at", "consent at"),
    "consent_means": ("consent means",),
    "consent_form_url": ("consent form url", "form url"),
    "consent_certificate": ("consent certificate", "trustedform", "certificate"),
    "consent_disclosure": ("consent disclosure", "disclosure"),
}
_PROFILE: tuple[str, ...] = ("first_name", "last_name", "time_zone", "region", "source")
_PROFILE += ("loan_purpose", "language", "price", "milestone", "status")
_TRUE = {"true", "yes", "y", "1", "x"}
_FALSE = {"false", "no", "n", "0", ""}
MAX_ROWS = 200_000


class ImportProblem(ValueError):
    """The file as a whole cannot be read: no header, a mapped column it lacks, too long."""


@dataclass
class Line:
    """One line of the file and what reading it found."""

    line: int  # in the file: 1 is the header
    lead_id: str | None = None
    body: dict[str, Any] | None = None  # the lead, as `PUT /v1/leads/{id}` takes it
    state: str = "pending"  # or "invalid" / "duplicate", with `detail`
    detail: str | None = None
    keys: list[str] = field(default_factory=list)  # what makes two lines the same person


def _normal(header: str) -> str:
    return re.sub(r"[\s_]+", " ", header.strip().lower())


def columns(header: list[str], mapping: dict[str, str]) -> dict[str, int]:
    """Each field's column index: as mapped (field: header), else by its usual headers."""
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise ImportProblem(
            f"unknown field {', '.join(unknown)} in the mapping; fields: {', '.join(FIELDS)}"
        )
    at = {_normal(name): i for i, name in enumerate(header)}
    found: dict[str, int] = {}
    for name, column in mapping.items():
        if _normal(column) not in at:
            raise ImportProblem(f"{name} is mapped to column {column!r}, which the file lacks")
        found[name] = at[_normal(column)]
    for name, usual in FIELDS.items():
        if name not in found:
            hit = next((at[h] for h in (name.replace("_", " "), *usual) if h in at), None)
            if hit is not None:
                found[name] = hit
    if "phone" not in found and "email" not in found:
        raise ImportProblem("the file has no phone and no email column: nobody to reach")
    return found


def read(text: str, mapping: dict[str, str], party: str, seller: str) -> list[Line]:
    """Every line of a CSV file (its first the header), checked; later lines that repeat an
    earlier one (the same lead id, email, or phone and name) held as duplicates."""
    if "\x00" in text:
        at = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportProblem(f"line {at} holds a NUL character: is the file text?")
    try:
        rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    except csv.Error as exc:
        raise ImportProblem(f"not CSV: {exc}") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ImportProblem("the file is empty: its first line is the header")
    if len(rows) - 1 > MAX_ROWS:
        raise ImportProblem(f"{len(rows) - 1} lines: an import takes at most {MAX_ROWS:,}")
    found = columns(rows[0], mapping)
    lines = [
        _line(n, cells, found, party, seller)
        for n, cells in enumerate(rows[1:], start=2)
        if any(cell.strip() for cell in cells)
    ]
    seen: dict[str, int] = {}
    for line in lines:
        if line.state != "pending":
            continue
        earlier = next((seen[k] for k in line.keys if k in seen), None)
        if earlier is not None:
            why = next(k for k in line.keys if seen.get(k) == earlier).split(":", 1)[0]
            line.state, line.detail = "duplicate", f"the same {why} as line {earlier}"
            continue
        for key in line.keys:
            seen[key] = line.line
    return lines


def _line(n: int, cells: list[str], found: dict[str, int], party: str, seller: str) -> Line:
    value = {
        name: (cells[i].strip() or None) if i < len(cells) else None for name, i in found.items()
    }
    line = Line(line=n)
    try:
        body = _body(value, party, seller)
        lead = LeadIn.model_validate(body)
    except ValueError as exc:  # a ValidationError is one: each of its problems, named
        line.state, line.detail = "invalid", _said(exc, party)
        return line
    first, last = (lead.first_name or "").lower(), (lead.last_name or "").lower()
    reached = lead.parties[party]
    if reached.phone is None and reached.email is None:
        line.state, line.detail = "invalid", "no phone and no email: nobody to reach"
        return line
    line.lead_id = value.get("lead_id") or _derived(reached.phone, reached.email, first, last)
    if not re.fullmatch(IDENTIFIER, line.lead_id):
        line.state = "invalid"
        line.detail = f"lead_id {line.lead_id[:40]!r}: 1-128 letters, digits and . _ @ + -"
        return line
    line.body = lead.model_dump(mode="json", exclude_unset=True)
    line.keys = [f"lead id:{line.lead_id}"]
    if reached.email:
        line.keys.append(f"email:{reached.email.lower()}")
    if reached.phone and (first or last):
        line.keys.append(f"phone and name:{reached.phone}|{first}|{last}")
    return line


def _body(value: dict[str, str | None], party: str, seller: str) -> dict[str, Any]:
    """The lead as `PUT /v1/leads/{id}` takes it, from a line's cells."""
    first, last = value.get("first_name"), value.get("last_name")
    sms = (value.get("sms_consent") or "").lower()
    if sms not in _TRUE | _FALSE:
        raise ValueError(f"sms_consent: {sms[:20]!r} is not yes or no")
    person = {
        "name": " ".join(p for p in (first, last) if p) or None,
        "phone": value.get("phone"),
        "email": value.get("email"),
        "sms_consent": sms in _TRUE,
    }
    body: dict[str, Any] = {name: value[name] for name in _PROFILE if value.get(name) is not None}
    if value.get("tags"):
        body["tags"] = [t.strip() for t in (value["tags"] or "").split(";") if t.strip()]
    body["parties"] = {party: {k: v for k, v in person.items() if v is not None}}
    if value.get("consent_given_at"):
        body["consents"] = [
            {
                "party": party,
                "channels": ["sms", "call"],
                "given_at": value["consent_given_at"],
                "means": value.get("consent_means") or "web_form",
                "form_url": value.get("consent_form_url"),
                "certificate": value.get("consent_certificate"),
                "disclosure": value.get("consent_disclosure") or "as imported",
                "seller": seller,
                "actor": "import",
            }
        ]
    return body


def _said(exc: ValueError, party: str) -> str:
    """A line's problems, each named by the field (its column) it is about."""
    if not isinstance(exc, ValidationError):
        return str(exc)
    said = []
    for error in exc.errors(include_url=False):
        where = [str(p) for p in error["loc"]]
        if where[:2] == ["parties", party]:
            where = where[2:]
        elif where[:2] == ["consents", "0"]:
            where = ["consent_" + "_".join(where[2:])] if len(where) > 2 else ["consent"]
        message = str(error["msg"]).removeprefix("Value error, ")
        said.append(f"{'.'.join(where) or 'line'}: {message}")
    return "; ".join(said)


def _derived(phone: str | None, email: str | None, first: str, last: str) -> str:
    """A lead id for a line without one: the same person in any file gets the same."""
    who = email.lower() if email else f"{phone}|{first}|{last}"
    return "imp-" + hashlib.sha256(who.encode()).hexdigest()[:20]


def digest(text: str, mapping: dict[str, str]) -> str:
    """The same file with the same mapping is the same import."""
    mapped = "\x1f".join(f"{k}={v}" for k, v in sorted(mapping.items()))
    return hashlib.sha256(f"{mapped}\x1e{text}".encode()).hexdigest()
