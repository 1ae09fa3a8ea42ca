"""Command-line interface over the same engine functions the workbench pages call.

One module per command; this one assembles the parser and turns errors into one line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence

from synth_core.cli import compare, demos, describe, evaluate, generate, report
from synth_core.cli._common import DEMO_PREFIX, EXIT_BUDGET_EXHAUSTED, EXIT_USER_ERROR
from synth_core.errors import BudgetExhaustedError, SynthWorkbenchError

__all__ = ["DEMO_PREFIX", "EXIT_BUDGET_EXHAUSTED", "EXIT_USER_ERROR", "build_parser", "main"]

logger = logging.getLogger("synth_core.cli")
_LIBRARY_WARNINGS = r"(sdv|sdmetrics|rdt|ctgan|copulas)(\.|$)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(os.environ.get("SYNTH_DEBUG"))
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    redactor = _SecretRedactor(os.environ.get("OPENAI_API_KEY", ""))
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(redactor)
    try:
        with warnings.catch_warnings():
            if not debug:
                # The libraries' advice is meant for their own users (e.g. SDV's paid bundles);
                # what matters is in our own messages.
                warnings.filterwarnings("ignore", category=UserWarning, module=_LIBRARY_WARNINGS)
            return _run_command(args, redactor)
    finally:
        for handler in handlers:
            handler.removeFilter(redactor)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m synth_core",
        description="Synth Workbench engine: learn a sample table and generate synthetic rows.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for command in (generate, describe, evaluate, compare, report, demos):
        command.add_parser(commands)
    return parser


def _run_command(args: argparse.Namespace, redactor: _SecretRedactor) -> int:
    try:
        return args.handler(args)
    except BudgetExhaustedError as error:
        print(f"error: {redactor.redact(error.user_message())}", file=sys.stderr)
        return EXIT_BUDGET_EXHAUSTED
    except SynthWorkbenchError as error:
        print(f"error: {redactor.redact(error.user_message())}", file=sys.stderr)
        for detail in getattr(error, "details", ()):  # e.g. every relationship problem
            print(f"  - {redactor.redact(detail)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    except Exception:  # the boundary: log the traceback for developers, show one line
        logger.debug("unexpected failure", exc_info=True)
        print(
            "error: something unexpected went wrong; rerun with SYNTH_DEBUG=1 for details.",
            file=sys.stderr,
        )
        return 1


class _SecretRedactor(logging.Filter):
    """Blanks the API key out of log records and messages, in case a library echoes it."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret.strip()

    def redact(self, text: str) -> str:
        return text.replace(self._secret, "**********") if self._secret else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secret:
            record.msg = self.redact(record.getMessage())
            record.args = None
            if record.exc_info:
                record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True
