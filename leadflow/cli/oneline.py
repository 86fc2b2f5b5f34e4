"""How a command fails on input it cannot take: one line, exit code 2, no traceback."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from leadflow.errors import ConfigError

P = ParamSpec("P")
R = TypeVar("R")
err = Console(stderr=True)


def fails_in_one_line(command: Callable[P, R]) -> Callable[P, R]:
    """Configuration problems end the command with one line naming the variable, exit 2."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            # The message is the user's input echoed back: never read as markup.
            said = Text.assemble(("leadflow: error: ", "bold red"), str(exc))
            err.print(said, highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper
