"""A two-letter state or province code as a playbook's YAML may spell it (a bare ON, Ontario,
is a boolean to YAML 1.1: said so, with how to write it)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, ValidationInfo
from pydantic_core import PydanticCustomError


def _not_a_yaml_boolean(value: object, info: ValidationInfo) -> object:
    """YAML 1.1 reads a bare ON (Ontario), and YES, NO, OFF, as a boolean: say so, and how to
    write the code, instead of 'Input should be a valid string'."""
    if not isinstance(value, bool):
        return value
    word = "ON" if value else "NO"
    field = "region: " if info.field_name == "region" else ""
    raise PydanticCustomError(
        "yaml_boolean",
        'YAML read {word} as {read}; quote it: {field}"{word}"',
        {"word": word, "read": str(value).lower(), "field": field},
    )


Region = Annotated[str, BeforeValidator(_not_a_yaml_boolean)]
"""A two-letter state or province code, as a YAML file may spell it."""
