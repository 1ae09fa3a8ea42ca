"""How a run splits into chunks: each chunk's rows, its first row's position and its own seed."""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass

from synth_core.bundle import chunk_seed

PART_PREFIX = "part-"
MIN_PART_DIGITS = 5  # part-00000 … part-99999 sort by name; longer runs get more digits


@dataclass(frozen=True)
class Chunk:
    """One part of the run: `rows` rows from position `first_row`, sampled with `seed`."""

    index: int
    first_row: int
    rows: int
    seed: int

    @property
    def last_row(self) -> int:
        return self.first_row + self.rows - 1


def chunk_count(rows: int, chunk_rows: int) -> int:
    return -(-rows // chunk_rows)


def chunk_at(index: int, rows: int, chunk_rows: int, run_seed: int) -> Chunk:
    """Chunk `index` of a run; it depends on nothing else, so any process can make it."""
    first_row = index * chunk_rows
    return Chunk(
        index=index,
        first_row=first_row,
        rows=min(chunk_rows, rows - first_row),
        seed=chunk_seed(run_seed, index),
    )


def chunks_to_make(
    rows: int, chunk_rows: int, run_seed: int, skip: Container[int] = ()
) -> Iterator[Chunk]:
    """The run's chunks in order, lazily (a huge run never holds them all), less `skip`."""
    for index in range(chunk_count(rows, chunk_rows)):
        if index not in skip:
            yield chunk_at(index, rows, chunk_rows, run_seed)


def part_file_name(index: int, format_key: str, parts_total: int) -> str:
    """ "part-00042.parquet": zero-padded so that the parts sort in order by name."""
    digits = max(MIN_PART_DIGITS, len(str(max(parts_total - 1, 0))))
    return f"{PART_PREFIX}{index:0{digits}d}.{format_key}"
