"""The Web UI's codec in `leadflow dev`: the UI can send no credential, so it opens sealed
payloads through a codec of its own, served by `leadflow dev` itself (which holds the keys)
on a free loopback port, for the UI's origin alone (see `ui_codec_app`). No token is ever
part of a URL."""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence

import uvicorn

from leadflow.api.routes.codec import ui_codec_app
from leadflow.codec import EncryptionCodec, Keyring


class LoopbackCodec:
    def __init__(self, keyring: Keyring, ui_origins: Sequence[str]) -> None:
        app = ui_codec_app(EncryptionCodec(keyring), ui_origins)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.listener]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def start(self) -> str:
        self.thread.start()
        return self.url

    def stop(self, timeout: float) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.listener.close()
