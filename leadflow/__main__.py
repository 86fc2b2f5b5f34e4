"""The `leadflow` command (`python -m leadflow`, and the `leadflow` script).

A command ends with `os._exit` once its output is flushed: the Temporal SDK's native
threads can outlive the event loop, and when the interpreter tears down around them it may
abort (SIGABRT, "PyGILState_Release ... finalizing": temporalio/sdk-python#300), turning a
command that succeeded, or failed in one line, into a crash. Every command has finished its
work (closed its connections, stopped its workers) before it returns."""

from __future__ import annotations

import logging
import os
import sys


def main() -> None:
    from leadflow.cli.main import app

    code = 0
    try:
        app(prog_name="leadflow")
    except SystemExit as exc:  # typer always ends this way
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            code = 1
        else:
            code = exc.code or 0
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        logging.shutdown()  # what atexit would have flushed
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
