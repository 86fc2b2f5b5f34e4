"""The sender's identity: the HELP reply names the business and its help contact, and
`leadflow playbook check` warns of first texts that do not say who is texting or how to stop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from leadflow.cli.main import app
from leadflow.paths import shipped
from leadflow.playbook.check import warnings
from leadflow.playbook.identity import first_text_warnings, help_text
from leadflow.playbook.load import default_playbook, load_playbook
from leadflow.playbook.schema import Playbook
from leadflow.playbook.sender_identity import IDENTITY_SEPTETS, Identity
from leadflow.playbook.shelf import digest
from leadflow.playbook.templates import sms_segments

ACME = Identity(name="Acme Mortgage", contact="acme.example.com/help")


def isa(change: dict[str, Any]) -> Playbook:
    """The ISA preset as YAML data, changed, then validated as a playbook file is."""
    data = yaml.safe_load((shipped("playbooks") / "isa.yaml").read_text())
    for path, value in change.items():
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
    return Playbook.model_validate(data)


def test_the_help_reply_names_the_brand_its_contact_and_how_to_stop() -> None:
    text = help_text(ACME)
    assert text.startswith("Acme Mortgage: ")
    assert "Help: acme.example.com/help." in text and text.endswith(
        "Reply STOP to opt out, START to opt back in."
    )


def test_the_help_reply_fits_one_plain_text_at_the_longest_identity() -> None:
    widest = Identity(
        name="[" * (IDENTITY_SEPTETS // 2),
        contact="a" * (IDENTITY_SEPTETS - 6) + ".co/~",  # ~ is two septets
    )
    text = help_text(widest)
    assert sms_segments(text) == (1, "GSM-7"), (len(text), text)


@pytest.mark.parametrize(
    ("name", "contact", "said"),
    [
        ("Acme Łódź", "help@acme.example", "characters a plain text cannot carry"),
        ("A" * (IDENTITY_SEPTETS + 1), "help@acme.example", f"at most {IDENTITY_SEPTETS}"),
        ("Acme", "ask for Sam", "is not a phone number"),
        ("   ", "help@acme.example", "must not be blank"),
    ],
)
def test_an_identity_that_cannot_go_in_a_text_is_refused_with_why(
    name: str, contact: str, said: str
) -> None:
    with pytest.raises(ValidationError, match=said):
        Identity(name=name, contact=contact)


@pytest.mark.parametrize(
    "contact", ["+1 (312) 555-0100", "help@acme.example", "https://acme.example"]
)
def test_a_help_contact_is_a_phone_an_email_or_a_web_address(contact: str) -> None:
    assert Identity(name="Acme", contact=contact).contact == contact


def test_a_playbook_without_an_identity_keeps_its_digest() -> None:
    book = default_playbook("isa")
    assert "identity" not in book.model_dump(mode="json")["compliance"]
    named = isa({"compliance.identity": {"name": "Acme Mortgage", "contact": "help@acme.example"}})
    body = named.model_dump(mode="json")
    assert body["compliance"]["identity"] == {
        "name": "Acme Mortgage",
        "contact": "help@acme.example",
    }
    assert Playbook.model_validate(body).compliance.identity == named.compliance.identity
    assert digest(named) != digest(book)


def test_the_isa_presets_first_texts_say_who_is_texting_and_how_to_stop() -> None:
    assert first_text_warnings(default_playbook("isa")) == []


def test_a_campaigns_first_text_without_the_sender_or_stop_is_warned_of() -> None:
    book = isa({"templates.intro_sms.body": "Hi {{ lead.first_name }}, when can we talk?"})
    assert [path for path, _ in first_text_warnings(book)] == [
        "campaigns.isa_touches.steps[0].template"
    ]
    said = first_text_warnings(book)[0][1]
    assert "'intro_sms'" in said and "who is texting or how to stop" in said


def test_only_the_first_text_counts_and_stop_alone_is_not_enough() -> None:
    book = isa(
        {
            "templates.intro_sms.body": "Hi {{ lead.first_name }}, Reply STOP to opt out.",
            "templates.missed_you_sms.body": "No sender, no stop.",
        }
    )
    assert [said for _, said in first_text_warnings(book)] == [
        "the first text 'intro_sms' does not say who is texting: carriers filter such texts; "
        "name the sender ({{ sender.name }}) and add 'Reply STOP to opt out'"
    ]


def test_the_business_name_names_the_sender_too() -> None:
    body = "Hi {{ lead.first_name }}, Acme Mortgage here. STOP to opt out."
    book = isa(
        {
            "templates.intro_sms.body": body,
            "compliance.identity": {"name": "Acme Mortgage", "contact": "help@acme.example"},
        }
    )
    assert first_text_warnings(book) == []
    anonymous = isa({"templates.intro_sms.body": body})
    assert [p for p, _ in first_text_warnings(anonymous)] == [
        "campaigns.isa_touches.steps[0].template"
    ]


def test_a_rules_first_text_is_warned_of_with_its_path() -> None:
    """A new lead's rule, a milestone's actions (and each loan-purpose variant) and a date
    rule each may be the first text a person gets."""
    book = default_playbook("mortgage")
    paths = [path for path, _ in first_text_warnings(book)]
    assert "milestone_actions.Application.actions[0].template" in paths
    assert "milestone_actions.Application.variants.Purchase[0].template" in paths
    assert "campaigns.high_touch.steps[0].template" in paths
    insurance = [path for path, _ in first_text_warnings(default_playbook("insurance"))]
    assert "date_rules[1].action.template" in insurance


def test_a_warning_never_refuses_the_playbook(tmp_path: Path) -> None:
    data = yaml.safe_load((shipped("playbooks") / "isa.yaml").read_text())
    data["templates"]["intro_sms"]["body"] = "Hi {{ lead.first_name }}, when can we talk?"
    file = tmp_path / "isa.yaml"
    file.write_text(yaml.safe_dump(data))
    book = load_playbook(file)
    assert [path for path, _ in warnings(book)] == [
        "campaigns.isa_touches.steps[0].template",
        "compliance.identity.postal_address",  # the preset emails, and names no business
    ]
    result = CliRunner().invoke(app, ["playbook", "check", str(file)])
    assert result.exit_code == 0, result.output
    assert "ok (isa" in result.stdout
    assert result.stderr.startswith(
        f"{file}: campaigns.isa_touches.steps[0].template: warning: the first text 'intro_sms'"
    )
