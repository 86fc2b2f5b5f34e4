"""The tests' encryption key: fixed, so recorded histories open on every run. Tests only."""

from __future__ import annotations

import base64

from temporalio.converter import DataConverter

from leadflow.codec import Keyring, PlaybookLoader
from leadflow.temporal import data_converter

TEST_KEYS = "test1:" + base64.b64encode(b"leadflow-tests-only-not-a-secret").decode()
KEYRING = Keyring.parse(TEST_KEYS)


def converter(*loaders: PlaybookLoader) -> DataConverter:
    return data_converter(KEYRING, loaders)


CONVERTER = converter()
