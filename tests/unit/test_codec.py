"""Payload sealing: what the codec writes opens only with the key that sealed it, keys
rotate, failures are sealed too, and bad key settings are refused in one line."""

from __future__ import annotations

import base64
import logging
import zlib

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from leadflow.api.routes.codec import RedactToken, ui_codec_app
from leadflow.codec import ENCODING, KEY_ID, EncryptionCodec, Keyring, UnknownKey, new_key
from leadflow.config import load_settings
from leadflow.errors import ConfigError
from leadflow.temporal import data_converter

SECRET = b'{"name":"Dana Demo","phone":"+13125550142","body":"call me after 5"}'
K1, K2 = new_key("k1"), new_key("k2")


def _plain() -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=SECRET)


async def test_a_sealed_payload_holds_nothing_readable_and_opens_to_the_same_payload() -> None:
    codec = EncryptionCodec(Keyring.parse(K1))
    [sealed] = await codec.encode([_plain()])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"k1"
    raw = sealed.SerializeToString()
    for word in (b"Dana", b"+13125550142", b"call me", b"json/plain"):
        assert word not in raw
    assert await codec.decode([sealed]) == [_plain()]


async def test_after_rotation_new_payloads_use_the_new_key_and_old_ones_still_open() -> None:
    [old] = await EncryptionCodec(Keyring.parse(K1)).encode([_plain()])
    rotated = EncryptionCodec(Keyring.parse(f"{K2},{K1}"))
    [new] = await rotated.encode([_plain()])
    assert new.metadata[KEY_ID] == b"k2"
    assert await rotated.decode([old, new]) == [_plain(), _plain()]


async def test_a_payload_sealed_with_an_unlisted_or_wrong_key_is_refused_by_name() -> None:
    [sealed] = await EncryptionCodec(Keyring.parse(K1)).encode([_plain()])
    with pytest.raises(UnknownKey, match="key 'k1', which ENCRYPTION_KEYS does not list"):
        await EncryptionCodec(Keyring.parse(K2)).decode([sealed])
    impostor = "k1:" + K2.partition(":")[2]
    with pytest.raises(UnknownKey, match="the key is wrong"):
        await EncryptionCodec(Keyring.parse(impostor)).decode([sealed])


async def test_a_none_has_nothing_to_hide_and_stays_as_it_is() -> None:
    codec = EncryptionCodec(Keyring.parse(K1))
    none = Payload(metadata={"encoding": b"binary/null"})
    assert await codec.encode([none]) == [none]
    assert await codec.decode([none]) == [none]
    # Only an empty None: a payload claiming the encoding but carrying data is sealed.
    odd = Payload(metadata={"encoding": b"binary/null"}, data=SECRET)
    [sealed] = await codec.encode([odd])
    assert SECRET not in sealed.SerializeToString()


async def test_payloads_written_before_encryption_pass_through() -> None:
    codec = EncryptionCodec(Keyring.parse(K1))
    assert await codec.decode([_plain()]) == [_plain()]


async def test_failure_messages_and_stack_traces_are_sealed() -> None:
    converter = data_converter(Keyring.parse(K1))
    failure = Failure()
    await converter.encode_failure(ApplicationError("no lead Dana Demo at +13125550142"), failure)
    assert failure.message == "Encoded failure"
    raw = failure.SerializeToString()
    assert b"Dana" not in raw and b"+13125550142" not in raw
    decoded = await converter.decode_failure(failure)
    assert str(decoded) == "no lead Dana Demo at +13125550142"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (None, "ENCRYPTION_KEYS: not set; make a key with `leadflow new-key`"),
        ("k1", "ENCRYPTION_KEYS: expected <id>:<base64 key>, got 'k1'"),
        ("k1:not base64!", "ENCRYPTION_KEYS: key 'k1' is not base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "key 'k1' is 5 bytes; AES-256 needs 32"),
        (f"{K1},{K1}", "ENCRYPTION_KEYS: key id 'k1' is listed twice"),
    ],
)
def test_bad_key_settings_say_what_is_wrong(setting: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("`", ".")):
        Keyring.parse(setting)


async def test_payloads_sealed_in_the_first_format_still_open() -> None:
    """The first format said how the bytes were packed in metadata; histories hold it."""
    keyring = Keyring.parse(K1)
    plain = _plain().SerializeToString()
    nonce = b"\x00" * 12
    sealed = keyring.cipher("k1").encrypt(nonce, zlib.compress(plain), b"k1")
    first = Payload(
        metadata={
            "encoding": ENCODING,
            "encryption-cipher": b"AES256-GCM",
            KEY_ID: b"k1",
            "compression": b"zlib",
        },
        data=nonce + sealed,
    )
    assert await EncryptionCodec(keyring).decode([first]) == [_plain()]


def test_access_logs_hide_the_ops_token_in_the_web_uis_codec_path() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/codec/ops/s3cret-token/decode", "1.1", 200),
        None,
    )
    assert RedactToken().filter(record)
    assert "s3cret-token" not in record.getMessage()
    assert "/codec/ops/***/decode" in record.getMessage()


async def test_a_public_message_travels_unsealed_and_reads_as_plain_json() -> None:
    """A send's key and provider id, a lead's snapshot: nothing personal, so no ~110 bytes of
    sealing on each; every reader gets it back as plain JSON. A message with a person in it
    is sealed as before."""
    from leadflow.activities.payloads import SendResult
    from leadflow.engine.state import Party
    from leadflow.temporal import data_converter

    converter = data_converter(Keyring.parse(K1))
    [public] = await converter.encode([SendResult(provider_id="SM1")])
    assert public.metadata["encoding"] == b"json/public"
    assert public.data == b'{"provider_id":"SM1"}'  # what differs from the defaults
    assert await converter.decode([public], [SendResult]) == [SendResult(provider_id="SM1")]
    [opened] = await converter.payload_codec.decode([public])  # type: ignore[union-attr]
    assert opened.metadata["encoding"] == b"json/plain"  # as the Web UI reads it
    [private] = await converter.encode([Party(name="Pat Lee", phone="+13125550111")])
    assert private.metadata["encoding"] == ENCODING and b"Pat" not in private.data


UI = "http://localhost:8233"


async def _ui_codec(headers: dict[str, str], host: str = "127.0.0.1:8234") -> httpx.Response:
    codec = EncryptionCodec(Keyring.parse(K1))
    [sealed] = await codec.encode([_plain()])
    body = {"payloads": [json_format.MessageToDict(sealed)]}
    app = ui_codec_app(codec, [UI, "http://127.0.0.1:8233"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
        return await client.post("/decode", json=body, headers=headers)


async def test_the_dev_ui_codec_opens_payloads_for_the_ui_origin_alone() -> None:
    opened = await _ui_codec({"Origin": UI})
    assert opened.status_code == 200
    assert opened.headers["access-control-allow-origin"] == UI
    assert base64.b64decode(opened.json()["payloads"][0]["data"]) == SECRET
    for refused in (
        await _ui_codec({}),  # a script on this machine: no browser, no origin
        await _ui_codec({"Origin": "https://evil.example"}),  # another site in the browser
        await _ui_codec({"Origin": UI}, host="evil.example:8234"),  # a name rebound to here
    ):
        assert refused.status_code == 403
        assert b"Dana" not in refused.content and "payloads" not in refused.text


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("OPS_TOKEN", "s3cret", "OPS_TOKEN is invalid: shorter than 32 characters"),
        ("METRICS_TOKEN", "x" * 31, "METRICS_TOKEN is invalid: shorter than 32 characters"),
        ("CODEC_ORIGINS", '["*"]', "CODEC_ORIGINS is invalid: '\\*' is a wildcard"),
        ("CODEC_ORIGINS", '["https://*.example.com"]', "CODEC_ORIGINS is invalid: .* wildcard"),
    ],
)
def test_a_guessable_credential_or_a_wildcard_origin_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, setting: str, value: str, message: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://leadflow@127.0.0.1/leadflow")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:7233")
    monkeypatch.setenv(setting, value)
    with pytest.raises(ConfigError, match=message) as refused:
        load_settings()
    assert "\n" not in str(refused.value)
