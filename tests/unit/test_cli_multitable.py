"""The CLI over several related tables: generate with HMA into a folder, evaluate two folders,
and one clear line for every mistake."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from synth_core.cli import main
from synth_core.multitable.dataset import load_multi_demo

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "clinic_visits.csv"


def _run(arguments: list[str]) -> tuple[int, str, str]:
    """main() in-process, with what it printed on stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(arguments)
    return code, out.getvalue(), err.getvalue()


def _tables_in(folder: Path) -> dict[str, pd.DataFrame]:
    return {path.stem: pd.read_csv(path) for path in sorted(folder.glob("*.csv"))}


def _assert_every_foreign_key_resolves(folder: Path) -> dict:
    metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    tables = _tables_in(folder)
    assert metadata["relationships"], "the written metadata keeps the relationships"
    for link in metadata["relationships"]:
        parent = tables[link["parent_table_name"]][link["parent_primary_key"]]
        keys = tables[link["child_table_name"]][link["child_foreign_key"]].dropna()
        assert len(keys) > 0
        assert keys.isin(set(parent)).all(), f"orphans in {link}"
    return metadata


def _travel_tables() -> dict[str, pd.DataFrame]:
    """The statsmodels travel-mode data plus a third table derived here: one booking per
    traveller for the mode chosen (individuals -> mode_choices, individuals -> bookings), so no
    fixture hand-builds the dataset. (SDV's HMA refuses parent -> child chains of three tables.)"""
    data, _ = load_multi_demo("travel_modes")
    choices = data.tables["mode_choices"]
    chosen = choices[choices["choice"] == 1].reset_index(drop=True)
    bookings = pd.DataFrame(
        {
            "booking_id": range(1001, 1001 + len(chosen)),
            "individual_id": chosen["individual_id"],
            "paid": chosen["invc"] * 1.1,
            "channel": ["agent" if cost > 40 else "online" for cost in chosen["invc"]],
        }
    )
    return {**data.tables, "bookings": bookings}


@pytest.fixture(scope="module")
def travel_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Three related CSVs in a folder, generated at half scale into another folder."""
    base = tmp_path_factory.mktemp("travel")
    real = base / "real"
    real.mkdir()
    tables = _travel_tables()
    for name, frame in tables.items():
        frame.to_csv(real / f"{name}.csv", index=False)
    synth = base / "synth"
    arguments = ["generate", str(real), "--backend", "hma", "--scale", "0.5", "--seed", "4"]
    code, _, err = _run([*arguments, "--out", str(synth)])
    return {"base": base, "real": real, "synth": synth, "tables": tables, "code": code, "err": err}


def test_generate_from_a_folder_writes_each_table_and_keeps_every_link(travel_run: dict) -> None:
    assert travel_run["code"] == 0, travel_run["err"]
    synth: Path = travel_run["synth"]
    assert sorted(path.name for path in synth.iterdir()) == [
        "bookings.csv",
        "individuals.csv",
        "metadata.json",
        "mode_choices.csv",
    ]
    metadata = _assert_every_foreign_key_resolves(synth)
    links = {(r["child_table_name"], r["parent_table_name"]) for r in metadata["relationships"]}
    assert links == {("mode_choices", "individuals"), ("bookings", "individuals")}
    written = _tables_in(synth)
    for name, frame in travel_run["tables"].items():
        assert list(written[name].columns) == list(frame.columns)
    assert "integrity: ok" in travel_run["err"]
    assert "0 orphans" in travel_run["err"]


def test_scale_half_halves_the_parent_rows(travel_run: dict) -> None:
    assert travel_run["code"] == 0, travel_run["err"]
    individuals = pd.read_csv(travel_run["synth"] / "individuals.csv")
    assert len(individuals) == len(travel_run["tables"]["individuals"]) // 2
    assert "individuals: 105 rows (input 210)" in travel_run["err"]


def test_evaluate_two_sets_of_tables_prints_scores_and_no_orphans(travel_run: dict) -> None:
    assert travel_run["code"] == 0, travel_run["err"]
    real_zip = travel_run["base"] / "real.zip"  # a zip of the real tables reads like the folder
    with zipfile.ZipFile(real_zip, "w") as archive:
        for path in travel_run["real"].glob("*.csv"):
            archive.write(path, path.name)
    code, out, err = _run(["evaluate", str(real_zip), str(travel_run["synth"]), "--json"])
    assert code == 0, err
    summary = json.loads(out)
    assert 0 < summary["quality_score"] <= 1
    assert 0 < summary["diagnostic_score"] <= 1
    assert summary["orphans"] == 0
    assert set(summary["per_table"]) == {"individuals", "mode_choices", "bookings"}
    assert summary["cardinality"], "cardinality is scored per relationship"


def test_generate_from_a_bundled_demo_as_parquet(tmp_path: Path) -> None:
    out = tmp_path / "travel"
    arguments = ["generate", "demo:travel_modes", "--seed", "1", "--format", "parquet"]
    code, _, err = _run([*arguments, "--out", str(out), "--quiet"])
    assert code == 0, err
    real, _ = load_multi_demo("travel_modes")
    written = {path.stem: pd.read_parquet(path) for path in out.glob("*.parquet")}
    assert set(written) == set(real.tables)
    for name, frame in real.tables.items():
        assert list(written[name].columns) == list(frame.columns)
    assert len(written["individuals"]) == len(real.tables["individuals"])
    choices = written["mode_choices"]
    assert choices["individual_id"].isin(set(written["individuals"]["individual_id"])).all()
    assert "integrity: ok" in err


def test_demos_lists_the_related_table_demos() -> None:
    code, out, _ = _run(["demos"])
    assert code == 0
    assert "demo:web_shop" in out
    assert "demo:travel_modes" in out


def _orphan_folder(folder: Path) -> Path:
    folder.mkdir()
    pd.DataFrame({"store_id": [1, 2, 3], "city": ["Oslo", "Bergen", "Molde"]}).to_csv(
        folder / "stores.csv", index=False
    )
    pd.DataFrame(
        {"sale_id": range(1, 9), "store_id": [1, 1, 2, 3, 7, 8, 2, 1], "amount": range(10, 18)}
    ).to_csv(folder / "sales.csv", index=False)
    metadata = {
        "METADATA_SPEC_VERSION": "V1",
        "tables": {
            "stores": {
                "primary_key": "store_id",
                "columns": {"store_id": {"sdtype": "id"}, "city": {"sdtype": "categorical"}},
            },
            "sales": {
                "primary_key": "sale_id",
                "columns": {
                    "sale_id": {"sdtype": "id"},
                    "store_id": {"sdtype": "id"},
                    "amount": {"sdtype": "numerical"},
                },
            },
        },
        "relationships": [
            {
                "parent_table_name": "stores",
                "parent_primary_key": "store_id",
                "child_table_name": "sales",
                "child_foreign_key": "store_id",
            }
        ],
    }
    meta = folder.parent / "meta.json"
    meta.write_text(json.dumps(metadata), encoding="utf-8")
    return meta


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["generate", "{nowhere}", "--backend", "hma", "--out", "{out}"], "no folder"),
        (["generate", "{fixture}", "--backend", "hma", "--out", "{out}"], "one table"),
        (
            ["generate", "{shop}", "--backend", "gaussian_copula", "--out", "{out}"],
            "--backend hma",
        ),
        (["generate", "{shop}", "--rows", "50", "--out", "{out}"], "--scale"),
        (["generate", "{fixture}", "--rows", "5", "--scale", "2", "--out", "x.csv"], "related"),
        (
            ["generate", "{orphans}", "--metadata", "{meta}", "--out", "{out}"],
            "store_id",
        ),
        (["evaluate", "{shop}", "{fixture}", "--json"], "not a folder"),
    ],
)
def test_mistakes_exit_2_with_one_clear_line(
    tmp_path: Path, arguments: list[str], expected: str
) -> None:
    shop = tmp_path / "shop"
    shop.mkdir()
    pd.DataFrame({"a_id": [1, 2]}).to_csv(shop / "a.csv", index=False)
    pd.DataFrame({"b_id": [1, 2], "a_id": [1, 2]}).to_csv(shop / "b.csv", index=False)
    meta = _orphan_folder(tmp_path / "orphans")
    filled = [
        argument.format(
            nowhere=tmp_path / "nowhere",
            fixture=FIXTURE,
            shop=shop,
            orphans=tmp_path / "orphans",
            meta=meta,
            out=tmp_path / "out",
        )
        for argument in arguments
    ]
    code, _, err = _run(filled)
    assert code == 2
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, err
    assert expected.lower() in error_lines[0].lower()
    assert not (tmp_path / "out").exists(), "nothing is written after a mistake"


def test_orphans_in_the_input_are_counted_before_any_fitting(tmp_path: Path) -> None:
    meta = _orphan_folder(tmp_path / "orphans")
    arguments = ["generate", str(tmp_path / "orphans"), "--metadata", str(meta)]
    code, _, err = _run([*arguments, "--out", str(tmp_path / "out")])
    assert code == 2
    error = next(line for line in err.splitlines() if line.startswith("error:"))
    assert "sales" in error and "2" in error  # two sales point at stores 7 and 8, which are missing
    assert "fit" not in err.split("error:")[0].lower()


def test_several_relationship_problems_are_each_listed_on_a_line(tmp_path: Path) -> None:
    meta = _orphan_folder(tmp_path / "orphans")
    stores = tmp_path / "orphans" / "stores.csv"
    stores.write_text("store_id,city\n1,Oslo\n1,Bergen\n3,Molde\n", encoding="utf-8")
    arguments = ["generate", str(tmp_path / "orphans"), "--metadata", str(meta)]
    code, _, err = _run([*arguments, "--out", str(tmp_path / "out")])
    assert code == 2
    after_error = err.split("error:", 1)[1].splitlines()
    assert "problems" in after_error[0]
    listed = [line for line in after_error[1:] if line.startswith("  - ")]
    assert len(listed) >= 2
    assert any("store_id" in line and "unique" in line for line in listed)
    assert any("not in stores" in line for line in listed)
