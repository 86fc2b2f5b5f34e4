"""Reading a file of leads for an import: columns found by their usual headers or a
mapping, every line checked as the API checks a lead (its problems named by field, with
the line number), lines that repeat an earlier one held, and the file's own problems
refused whole."""

from __future__ import annotations

import pytest

from leadflow.api.import_rows import ImportProblem, Line, digest, read
from leadflow.api.intake import LeadIn

PARTY = "borrower"


def _read(text: str, mapping: dict[str, str] | None = None) -> list[Line]:
    return read(text, mapping or {}, PARTY, "Acme Mortgage")


def test_columns_are_found_by_their_usual_headers_and_lines_become_leads() -> None:
    lines = _read(
        "First Name,Last Name,Mobile,E-mail,Lead Source,Texts OK,State\n"
        "Pat,Lee,(312) 555-0111,Pat@Example.com,zillow,yes,IL\n"
        "\n"  # an empty line is no lead
        "Sam,Roe,,sam@example.com,,no,\n"
    )
    assert [(line.line, line.state) for line in lines] == [(2, "pending"), (4, "pending")]
    pat = LeadIn.model_validate(lines[0].body)
    assert (pat.first_name, pat.last_name, pat.source, pat.region) == ("Pat", "Lee", "zillow", "IL")
    party = pat.parties[PARTY]
    assert (party.name, party.phone, party.sms_consent) == ("Pat Lee", "+13125550111", True)
    assert lines[0].lead_id and lines[0].lead_id.startswith("imp-")
    # The same person in another file gets the same id: an import never starts them twice.
    again = _read("email,first_name\npat@example.com,Patricia\n")
    assert again[0].lead_id == lines[0].lead_id
    assert LeadIn.model_validate(lines[1].body).parties[PARTY].phone is None


def test_a_mapping_names_the_column_a_field_is_under() -> None:
    lines = _read("Cust #,Cell Phone,Given\nC-1,312-555-0112,Ana\n", {
        "lead_id": "Cust #", "phone": "Cell Phone", "first_name": "Given",
    })  # fmt: skip
    assert lines[0].lead_id == "C-1" and lines[0].state == "pending"
    assert lines[0].body is not None and lines[0].body["first_name"] == "Ana"


@pytest.mark.parametrize(
    ("row", "said"),
    [
        ("L-1,Pat,12,", "phone:"),
        ("L-2,Pat,,not-an-email", "email:"),
        ("L-3,Pat,,", "no phone and no email: nobody to reach"),
        ("bad id!,Pat,3125550111,", "lead_id 'bad id!': 1-128 letters"),
    ],
)
def test_a_bad_line_is_invalid_with_its_field_and_nothing_else_is(row: str, said: str) -> None:
    lines = _read(f"lead_id,first_name,phone,email\nL-0,Ok,3125550100,\n{row}\n")
    assert lines[0].state == "pending"
    assert lines[1].state == "invalid" and lines[1].line == 3
    assert lines[1].detail is not None and said in lines[1].detail, lines[1].detail
    assert lines[1].body is None


def test_a_consent_column_gives_the_lead_its_consent_with_evidence_and_checks_it() -> None:
    header = "email,phone,consent_given_at,consent_form_url"
    lines = _read(
        f"{header}\n"
        "a@example.com,3125550101,2026-01-05T10:00:00-06:00,https://acme.example/form\n"
        "b@example.com,3125550102,2026-01-05,https://acme.example/form\n"
    )
    [consent] = LeadIn.model_validate(lines[0].body).consents
    assert (consent.means, consent.seller, str(consent.form_url)) == (
        "web_form", "Acme Mortgage", "https://acme.example/form",
    )  # fmt: skip
    assert lines[1].state == "invalid" and lines[1].detail is not None
    assert lines[1].detail.startswith("consent_given_at:"), lines[1].detail


def test_a_line_that_repeats_an_earlier_one_is_held_naming_it() -> None:
    lines = _read(
        "lead_id,first_name,last_name,phone,email\n"
        "A,Pat,Lee,3125550111,pat@example.com\n"
        "B,Pat,Lee,3125550199,PAT@example.com\n"  # the same email
        "C,pat,lee,3125550111,\n"  # the same phone and name
        "A,Sam,Roe,3125550122,\n"  # the same lead id
        "D,Sam,Roe,3125550111,\n"  # the same phone, another name: another person
    )
    assert [(line.state, line.detail) for line in lines] == [
        ("pending", None),
        ("duplicate", "the same email as line 2"),
        ("duplicate", "the same phone and name as line 2"),
        ("duplicate", "the same lead id as line 2"),
        ("pending", None),
    ]


@pytest.mark.parametrize(
    ("text", "mapping", "said"),
    [
        ("", {}, "the file is empty"),
        ("phone\n3125550111\x00\n", {}, "line 2 holds a NUL character"),
        ("first_name,last_name\nPat,Lee\n", {}, "no phone and no email column"),
        ("phone\n3125550111\n", {"fax": "phone"}, "unknown field fax in the mapping"),
        ("phone\n3125550111\n", {"email": "E-mail"}, "email is mapped to column 'E-mail'"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(
    text: str, mapping: dict[str, str], said: str
) -> None:
    with pytest.raises(ImportProblem, match=said):
        _read(text, mapping)


def test_the_same_file_with_another_mapping_is_another_import() -> None:
    text = "phone\n3125550111\n"
    assert digest(text, {}) == digest(text, {})
    assert digest(text, {}) != digest(text, {"phone": "phone"})
