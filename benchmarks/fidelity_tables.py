"""Real public tables for the fidelity benchmark, read offline from installed packages.

Each table loads as a DataFrame plus SDV-detected metadata, with the few fix-ups it needs:

- anes96 (statsmodels, 944 rows x 10): 1996 American National Election Study. Numbers (age,
  income, population) and 7-point ordinal scales (ideology, party, education, TV news), a vote
  flag. Fix-up: `logpopul` is dropped (it is log(popul + 0.1), a formula, not data).
- seattle_weather (vega_datasets, 1,461 x 6): daily NOAA weather 2012-2015. A datetime (date),
  four numbers (rain, temperatures, wind) and a five-value category (weather). No fix-ups.
- gapminder (plotly, 1,704 x 6): life expectancy, population and GDP per head, 142 countries
  every 5 years 1952-2007. A 142-value category (country), a 5-value one (continent), skewed
  numbers. Fix-ups: `iso_alpha`/`iso_num` dropped (one-to-one codes of `country`); `pop` is
  unique, so SDV calls it an id, and is set back to numerical.
- airports (vega_datasets, 3,376 x 4): US airports. A 56-value category with missing values
  (state, 12 missing), a 5-value one (country) and coordinates. Fix-ups: `iata`, `name`, `city`
  dropped (near-unique labels that no model learns; SDV would fake them); `state` is detected
  as a Faker "administrative_unit" and latitude/longitude as PII, so all three are set to
  categorical/numerical to be modelled and scored.
- fair (statsmodels, 6,366 x 9): 1974 survey of married women (Fair, 1978). Ordinal codes
  (marriage rating, religiousness, education, occupations), few-valued numbers, a zero-heavy
  continuous one (affairs). No fix-ups.
- fertility (statsmodels, 11,826 x 3): World Bank fertility rate for 219 countries and areas,
  1960-2013, with 1,542 missing values (13 %). Fix-up: the wide file (one column per year) is
  melted to one row per country and year; the year becomes a datetime (1 January); the constant
  indicator columns and the country code (one-to-one with the name) are dropped.
- randhie (statsmodels' raw RAND HIE file, 20,190 x 15): the RAND Health Insurance Experiment:
  plan and site (categories), year, income, age, sex, education (4 missing), medical spending
  (zero-heavy), doctor visits, family size, health indices (ghindx: 5,223 missing, 26 %). Fix-
  ups: 15 of its 45 columns are kept (the rest are logs, duplicates and spending splits);
  `plan` and `site` are codes, set to categorical.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from synth_core.metadata import TableMetadata, detect_metadata

MAX_TRAIN_ROWS = 50_000  # the benchmark trains on at most this many rows of a larger table


@dataclass(frozen=True)
class FidelityTable:
    """One benchmark table: its rows, its metadata and where it came from."""

    name: str
    frame: pd.DataFrame
    metadata: TableMetadata
    source: str


def _anes96() -> pd.DataFrame:
    from statsmodels.datasets import anes96

    return anes96.load_pandas().data.drop(columns=["logpopul"])


def _seattle_weather() -> pd.DataFrame:
    from vega_datasets import local_data

    return local_data.seattle_weather()


def _gapminder() -> pd.DataFrame:
    from plotly.express import data

    return data.gapminder().drop(columns=["iso_alpha", "iso_num"])


def _airports() -> pd.DataFrame:
    from vega_datasets import local_data

    return local_data.airports().drop(columns=["iata", "name", "city"])


def _fair() -> pd.DataFrame:
    from statsmodels.datasets import fair

    return fair.load_pandas().data


def _fertility() -> pd.DataFrame:
    from statsmodels.datasets import fertility

    wide = fertility.load_pandas().data
    years = [column for column in wide.columns if column.isdigit()]
    long = wide.melt(id_vars=["Country Name"], value_vars=years, var_name="year")
    long = long.rename(columns={"Country Name": "country", "value": "fertility_rate"})
    long["year"] = pd.to_datetime(long["year"], format="%Y")
    return long.sort_values(["country", "year"], kind="stable").reset_index(drop=True)


_RANDHIE_COLUMNS = [
    "plan", "site", "year", "income", "xage", "female", "educdec", "meddol",
    "mdvis", "num", "mhi", "disea", "physlm", "ghindx", "child",
]  # fmt: skip


def _randhie() -> pd.DataFrame:
    from statsmodels.datasets import randhie

    path = os.path.join(os.path.dirname(randhie.__file__), "src", "randhie.csv")
    return pd.read_csv(path, usecols=_RANDHIE_COLUMNS)[_RANDHIE_COLUMNS]


# name -> (loader, source, columns whose detected sdtype is replaced)
_TABLES: dict[str, tuple[Callable[[], pd.DataFrame], str, dict[str, str]]] = {
    "anes96": (_anes96, "statsmodels.datasets.anes96", {}),
    "seattle_weather": (_seattle_weather, "vega_datasets.local_data.seattle_weather", {}),
    "gapminder": (_gapminder, "plotly.express.data.gapminder", {"pop": "numerical"}),
    "airports": (
        _airports,
        "vega_datasets.local_data.airports",
        {"state": "categorical", "latitude": "numerical", "longitude": "numerical"},
    ),
    "fair": (_fair, "statsmodels.datasets.fair", {}),
    "fertility": (_fertility, "statsmodels.datasets.fertility (melted)", {}),
    "randhie": (
        _randhie,
        "statsmodels.datasets.randhie, src/randhie.csv",
        {"plan": "categorical", "site": "categorical"},
    ),
}

TABLE_NAMES: tuple[str, ...] = tuple(_TABLES)
QUICK_TABLES: tuple[str, ...] = ("anes96", "seattle_weather", "gapminder")  # each <= 2k rows


def load_fidelity_table(name: str) -> FidelityTable:
    """The benchmark table `name`: its rows and detected metadata with the fix-ups applied."""
    if name not in _TABLES:
        raise KeyError(f"No fidelity table '{name}'; choose from {', '.join(TABLE_NAMES)}.")
    loader, source, sdtypes = _TABLES[name]
    frame = loader().reset_index(drop=True)
    metadata = detect_metadata(frame, name)
    for column, sdtype in sdtypes.items():
        metadata = metadata.with_column(column, sdtype)
    return FidelityTable(name, frame, metadata, source)
