"""`demos`: list the bundled demo datasets (usable anywhere as INPUT `demo:KEY`), single and
multi-table."""

from __future__ import annotations

import argparse
from typing import Any

from synth_core.cli._common import DEMO_PREFIX
from synth_core.demo_data import DEMO_DATASETS
from synth_core.multitable.dataset import MULTI_DEMOS


def add_parser(commands: Any) -> None:
    demos = commands.add_parser(
        "demos", help="list the bundled demo datasets (one or related tables)"
    )
    demos.set_defaults(handler=run_demos)


def run_demos(args: argparse.Namespace) -> int:
    for key, demo in DEMO_DATASETS.items():
        print(f"{DEMO_PREFIX}{key}\t{demo.title} — {demo.description}")
    for key, multi in MULTI_DEMOS.items():
        tables = ", ".join(multi.tables)
        print(
            f"{DEMO_PREFIX}{key}\t[related tables: {tables}; --backend hma] {multi.title} — "
            f"{multi.description}"
        )
    return 0
