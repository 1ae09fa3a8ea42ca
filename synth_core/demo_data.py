"""Real public demo tables that ship inside installed packages, so they load offline.

Each source package is imported only when its table is asked for (statsmodels is slow to import).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from synth_core.errors import InputFileError
from synth_core.io import LoadedTable


@dataclass(frozen=True)
class DemoDataset:
    key: str
    title: str
    description: str
    source: str
    licence: str
    rows: int = 0
    columns: int = 0


DEMO_DATASETS: dict[str, DemoDataset] = {
    "student_placements": DemoDataset(
        key="student_placements",
        title="Student placements",
        description="MBA students' grades, work experience, specialisation and job placement outcome.",
        source="sdmetrics (sdmetrics.demos.load_demo('single_table'), real table)",
        licence="SDV's single-table demo data, bundled with sdmetrics (MIT licence).",
        rows=215,
        columns=17,
    ),
    "seattle_weather": DemoDataset(
        key="seattle_weather",
        title="Seattle weather",
        description="Daily precipitation, temperatures, wind and weather type in Seattle, 2012–2015.",
        source="vega_datasets (local_data.seattle_weather)",
        licence="Public-domain NOAA data, bundled with vega_datasets (MIT licence).",
        rows=1461,
        columns=6,
    ),
    "tips": DemoDataset(
        key="tips",
        title="Restaurant tips",
        description="Restaurant bills with tip, party size, day, time, and the payer's sex and smoking.",
        source="plotly (plotly.express.data.tips)",
        licence="Bryant & Smith (1995), via the R reshape2 package; bundled with plotly (MIT licence).",
        rows=244,
        columns=7,
    ),
    "fair": DemoDataset(
        key="fair",
        title="Extramarital affairs (Fair, 1978)",
        description="Survey of married women: marriage rating, age, years married, children, affairs.",
        source="statsmodels (statsmodels.datasets.fair)",
        licence="Fair, R. (1978), Journal of Political Economy; included in statsmodels "
        "with the author's permission.",
        rows=6366,
        columns=9,
    ),
    "randhie": DemoDataset(
        key="randhie",
        title="RAND Health Insurance Experiment",
        description="Doctor visits with coinsurance, income, health status and chronic disease.",
        source="statsmodels (statsmodels.datasets.randhie)",
        licence="Public domain; collected by the RAND Corporation, subset from Cameron & Trivedi "
        "(2005), bundled with statsmodels.",
        rows=20190,
        columns=10,
    ),
}

DEFAULT_DEMO: str = "student_placements"


def load_demo_dataset(key: str) -> LoadedTable:
    """The demo table called `key`, read from its installed package (no network)."""
    dataset = DEMO_DATASETS.get(key)
    if dataset is None:
        raise InputFileError(
            f"There is no demo dataset called '{key}'.",
            f"Choose one of: {', '.join(DEMO_DATASETS)}.",
        )
    try:
        frame = _LOADERS[key]()
    except (ImportError, OSError) as exc:
        raise InputFileError(
            f"The demo dataset '{dataset.title}' could not be loaded from {dataset.source}.",
            "Reinstall the project's requirements (requirements.txt).",
        ) from exc
    return LoadedTable(
        frame=frame.reset_index(drop=True),
        name=key,
        source_format="demo",
        notes=(f"Demo dataset: {dataset.title}. {dataset.licence}",),
    )


def _student_placements() -> pd.DataFrame:
    from sdmetrics.demos import load_demo

    real_tables, _synthetic, _metadata = load_demo("single_table")
    return real_tables["student_placements"]


def _seattle_weather() -> pd.DataFrame:
    from vega_datasets import local_data

    return local_data.seattle_weather()


def _tips() -> pd.DataFrame:
    from plotly.express import data

    return data.tips()


def _fair() -> pd.DataFrame:
    from statsmodels.datasets import fair

    return fair.load_pandas().data


def _randhie() -> pd.DataFrame:
    from statsmodels.datasets import randhie

    return randhie.load_pandas().data


_LOADERS: dict[str, Callable[[], pd.DataFrame]] = {
    "student_placements": _student_placements,
    "seattle_weather": _seattle_weather,
    "tips": _tips,
    "fair": _fair,
    "randhie": _randhie,
}
