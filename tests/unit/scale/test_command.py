"""The Export page's scale command: quoted for a shell, only the options given, and the CLI reads it."""

from __future__ import annotations

import shlex

import pytest

from synth_core.cli import build_parser
from synth_core.errors import ScaleError
from synth_core.scale.command import scale_command

PREFIX = ["python", "-m", "synth_core", "generate"]


def test_the_plain_command_names_bundle_rows_folder_and_format() -> None:
    command = scale_command("customers_run.zip", 10_000_000)
    assert command == (
        "python -m synth_core generate --bundle customers_run.zip --rows 10000000 "
        "--out synthetic_parts --format parquet"
    )


def test_paths_with_spaces_and_quotes_stay_one_argument() -> None:
    bundle = "my data's run.zip"
    folder = "Synthetic parts/$HOME; rm -rf ~"
    words = shlex.split(scale_command(bundle, 5000, folder, "csv"))
    assert words == [
        *PREFIX,
        "--bundle",
        bundle,
        "--rows",
        "5000",
        "--out",
        folder,
        "--format",
        "csv",
    ]


def test_options_appear_only_when_given() -> None:
    plain = shlex.split(scale_command("run.zip", 10))
    assert not {"--chunk-rows", "--workers", "--seed"} & set(plain)

    words = shlex.split(scale_command("run.zip", 10, chunk_rows=2500, workers=0, seed=42))
    assert words[words.index("--chunk-rows") + 1] == "2500"
    assert words[words.index("--workers") + 1] == "0", "0 workers (in-process) is kept"
    assert words[words.index("--seed") + 1] == "42"


def test_an_interpreter_path_with_spaces_is_quoted() -> None:
    words = shlex.split(scale_command("run.zip", 10, python="/opt/my python/bin/python"))
    assert words[0] == "/opt/my python/bin/python"
    assert words[1:4] == ["-m", "synth_core", "generate"]


def test_a_name_starting_with_a_dash_is_not_read_as_an_option() -> None:
    words = shlex.split(scale_command("-odd_run.zip", 10, "--parts"))
    assert words[words.index("--bundle") + 1] == "./-odd_run.zip"
    assert words[words.index("--out") + 1] == "./--parts"


def test_a_home_folder_is_left_for_the_shell_to_expand() -> None:
    command = scale_command("run.zip", 10, "~/big parts")
    assert "--out ~/'big parts'" in command
    words = shlex.split(command)
    assert words[words.index("--out") + 1] == "~/big parts"


@pytest.mark.parametrize(
    ("arguments", "options", "said"),
    [
        (("run.zip", 0), {}, "at least 1"),
        (("run.zip", 10, "   "), {}, "no name"),
        (("run.zip", 10, "parts\nrm -rf /"), {}, "line break"),
        (("", 10), {}, "no name"),
        (("run.zip", 10, "parts", "xlsx"), {}, "parquet, csv"),
        (("run.zip", 10), {"workers": -1}, "at least 0"),
        (("run.zip", 10), {"chunk_rows": 0}, "at least 1"),
        (("run.zip", 2.5), {}, "whole number"),
    ],
)
def test_bad_input_gets_a_clear_message(
    arguments: tuple[object, ...], options: dict[str, int], said: str
) -> None:
    with pytest.raises(ScaleError, match=said):
        scale_command(*arguments, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options", [{}, {"workers": 0, "chunk_rows": 1000, "seed": 7}, {"workers": 3}]
)
def test_the_cli_reads_the_command_back(options: dict[str, int]) -> None:
    folder = "big parts/customers"
    command = scale_command("customers run.zip", 1_000_000, folder, "csv", **options)
    args = build_parser().parse_args(shlex.split(command)[3:])
    assert args.command == "generate"
    assert args.bundle == "customers run.zip"
    assert args.rows == 1_000_000
    assert args.out == folder
    assert args.multi_format == "csv", "scaled runs share the related tables' --format"
    assert args.workers == options.get("workers")
    assert args.chunk_rows == options.get("chunk_rows")
    assert args.seed == options.get("seed")
