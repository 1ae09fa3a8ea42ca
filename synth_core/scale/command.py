"""The exact shell command that runs a scaled generation from a run bundle, for the Export page.

Every argument is quoted for a POSIX shell, so the command can be copied and pasted as it is.
"""

from __future__ import annotations

import shlex

from synth_core.errors import ScaleError
from synth_core.scale.request import FORMATS

DEFAULT_OUT_DIR = "synthetic_parts"


def scale_command(
    bundle_file: str,
    rows: int,
    out_dir: str = DEFAULT_OUT_DIR,
    format_key: str = "parquet",
    *,
    chunk_rows: int | None = None,
    workers: int | None = None,
    seed: int | None = None,
    python: str = "python",
    llm_concurrency: int | None = None,
    token_budget: int | None = None,
) -> str:
    """`python -m synth_core generate --bundle B --rows N --out DIR --format F [...]`.

    Only the options given appear: without `workers` the run uses a local cluster with one
    worker per core, without `seed` the bundle's own seed, without `chunk_rows` the default.
    `llm_concurrency` and `token_budget` limit a bundle's LLM text columns across all workers;
    the endpoint itself (and its key) comes from the environment, never from the command.
    """
    words = [
        shlex.quote(python),
        "-m",
        "synth_core",
        "generate",
        "--bundle",
        _shell_path(bundle_file, "run bundle file"),
        "--rows",
        str(_whole_number(rows, "--rows", minimum=1)),
        "--out",
        _shell_path(out_dir, "output folder"),
        "--format",
        shlex.quote(_known_format(format_key)),
    ]
    if chunk_rows is not None:
        words += ["--chunk-rows", str(_whole_number(chunk_rows, "--chunk-rows", minimum=1))]
    if workers is not None:
        words += ["--workers", str(_whole_number(workers, "--workers", minimum=0))]
    if seed is not None:
        words += ["--seed", shlex.quote(str(_whole_number(seed, "--seed", minimum=None)))]
    if llm_concurrency is not None:
        concurrency = _whole_number(llm_concurrency, "--llm-concurrency", minimum=1)
        words += ["--llm-concurrency", str(concurrency)]
    if token_budget is not None:
        words += ["--token-budget", str(_whole_number(token_budget, "--token-budget", minimum=1))]
    return " ".join(words)


def _shell_path(path: str, what: str) -> str:
    """`path` as one shell word that names the same file, whatever characters it holds."""
    text = path.strip()
    if not text:
        raise ScaleError(f"The {what} has no name.", f"Type a name for the {what}.")
    if any(not character.isprintable() for character in text):
        raise ScaleError(
            f"The {what} {text!r} holds a line break or another invisible character.",
            "Use letters, digits, spaces, dots, dashes, underscores and slashes.",
        )
    if text.startswith("-"):
        text = f"./{text}"  # else the command line would read it as an option
    if text == "~":
        return text
    if text.startswith("~/"):
        # Left unquoted so the shell still expands ~ to the home folder.
        return "~/" + (shlex.quote(text[2:]) if text[2:] else "")
    return shlex.quote(text)


def _whole_number(value: int, option: str, *, minimum: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScaleError(
            f"{option} needs a whole number, not {value!r}.", "Type a number without decimals."
        )
    if minimum is not None and value < minimum:
        raise ScaleError(
            f"{option} must be at least {minimum}, not {value}.", f"Use {minimum} or more."
        )
    return value


def _known_format(format_key: str) -> str:
    if format_key not in FORMATS:
        raise ScaleError(
            f"{format_key!r} is not an output format of scaled runs.",
            f"Use one of: {', '.join(FORMATS)}.",
        )
    return format_key
