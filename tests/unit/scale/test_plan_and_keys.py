"""Chunks and their seeds, and primary keys that stay unique across every chunk of a run."""

from __future__ import annotations

import pandas as pd

from synth_core.bundle import chunk_seed
from synth_core.metadata import TableMetadata
from synth_core.scale import chunk_at, chunk_count, part_file_name
from synth_core.scale.keys import describe_keys, with_global_keys
from synth_core.scale.plan import chunks_to_make


def test_chunks_cover_every_row_once_with_their_own_seeds() -> None:
    chunks = list(chunks_to_make(rows=10_500, chunk_rows=1_000, run_seed=7))

    assert len(chunks) == chunk_count(10_500, 1_000) == 11
    assert [chunk.first_row for chunk in chunks] == [index * 1_000 for index in range(11)]
    assert sum(chunk.rows for chunk in chunks) == 10_500 and chunks[-1].rows == 500
    assert [chunk.seed for chunk in chunks] == [chunk_seed(7, index) for index in range(11)]
    assert len({chunk.seed for chunk in chunks}) == 11
    # A chunk is the same whoever makes it, and whatever else the run holds.
    assert chunk_at(3, 10_500, 1_000, 7) == chunks[3]
    assert chunk_at(3, 50_000, 1_000, 7) == chunks[3]
    kept = {0, 5}  # parts an earlier run finished
    remaining = [chunk.index for chunk in chunks_to_make(10_500, 1_000, 7, skip=kept)]
    assert remaining == [1, 2, 3, 4, 6, 7, 8, 9, 10]


def test_part_names_sort_in_order_even_past_100000_parts() -> None:
    assert part_file_name(42, "parquet", 100) == "part-00042.parquet"
    names = [part_file_name(index, "csv", 250_000) for index in (9, 99_999, 100_000, 249_999)]
    assert names == sorted(names) and names[0] == "part-000009.csv"


def _visits(key: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"visit_id": key, "cost": [1.5, 2.5, 3.5]})


def _metadata(key_spec: dict | None) -> TableMetadata:
    columns: dict = {"cost": {"sdtype": "numerical"}}
    table: dict = {"columns": columns}
    if key_spec is not None:
        columns["visit_id"] = key_spec
        table["primary_key"] = "visit_id"
    return TableMetadata("visits", {"tables": {"visits": table}, "METADATA_SPEC_VERSION": "V1"})


def test_integer_keys_are_global_positions_and_never_repeat_across_chunks() -> None:
    # SDV gave both chunks the same keys: the repeats a chunked run must not have.
    sampled = _visits(pd.Series([5, 9, 2]))
    metadata = _metadata({"sdtype": "id"})

    first = with_global_keys(sampled, metadata, first_row=0, total_rows=6)
    second = with_global_keys(sampled, metadata, first_row=3, total_rows=6)

    keys = pd.concat([first, second])["visit_id"]
    assert keys.tolist() == [0, 1, 2, 3, 4, 5] and keys.dtype == sampled["visit_id"].dtype
    assert first["cost"].tolist() == sampled["cost"].tolist()
    assert sampled["visit_id"].tolist() == [5, 9, 2]  # the sampled rows are left as they were


def test_text_keys_keep_the_regex_prefix_and_sort_by_position() -> None:
    sampled = _visits(pd.Series(["V10000", "V10001", "V10002"]))
    metadata = _metadata({"sdtype": "id", "regex_format": "V[0-9]{5}"})

    keys = with_global_keys(sampled, metadata, first_row=998, total_rows=2_000)["visit_id"]

    assert keys.tolist() == ["V0000000998", "V0000000999", "V0000001000"]
    assert describe_keys(metadata, 2_000, "object") == {
        "column": "visit_id",
        "values": "'V' + the row's 0-based position in the whole output, zero-padded to 10 digits",
    }


def test_text_keys_without_a_regex_look_like_sdvs_and_a_table_without_key_is_untouched() -> None:
    sampled = _visits(pd.Series(["sdv-id-aB", "sdv-id-Cd", "sdv-id-aB"]))
    metadata = _metadata({"sdtype": "id"})

    keys = with_global_keys(sampled, metadata, 0, 3)["visit_id"]
    assert keys.tolist() == ["sdv-id-0000000000", "sdv-id-0000000001", "sdv-id-0000000002"]

    no_key = sampled[["cost"]]
    assert with_global_keys(no_key, _metadata(None), 10, 20) is no_key
