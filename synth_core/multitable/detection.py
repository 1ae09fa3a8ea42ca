"""Finding the links between related tables: SDV's detection, plus links by value overlap."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import pandas as pd
from sdv.metadata import Metadata

from synth_core.errors import MetadataError
from synth_core.metadata import check_frame_for_metadata, clean_sdv_message
from synth_core.multitable.dataset import MultiTable
from synth_core.multitable.metadata import MultiTableMetadata, Relationship, comparable_keys

# A detected link is added only when this share of the child's values are parent keys.
AUTO_LINK_OVERLAP = 0.9
# Candidates below this share are not worth offering in the editor.
CANDIDATE_OVERLAP = 0.5


def detect_multi_metadata(data: MultiTable) -> MultiTableMetadata:
    """SDV's detection (types, primary keys, links by column name), plus links by value overlap.

    A link SDV missed is added when the child column's name fits the parent (same name, or naming
    the parent table), at least 90% of its values are keys of the parent, and the parent key is
    unique. A column that already links somewhere, or a link that would close a cycle, is skipped.
    """
    for name, frame in data.tables.items():
        try:
            check_frame_for_metadata(frame)
        except MetadataError as error:
            raise MetadataError(f"Table '{name}': {error.message}", error.hint) from error
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            detected = Metadata.detect_from_dataframes(dict(data.tables))
    except Exception as error:  # SDV raises assorted ValueError/TypeError subclasses
        raise MetadataError(
            f"SDV could not detect the tables' types and keys: {clean_sdv_message(error)}",
            "Check that every column has a simple type (numbers, text or dates).",
        ) from error
    metadata = MultiTableMetadata(detected.to_dict())
    for rel, share in _scored_candidates(data, metadata):
        if not share.name_fits or share.overlap < AUTO_LINK_OVERLAP:
            continue
        linked = {(r.child_table, r.child_key) for r in metadata.relationships}
        if (rel.child_table, rel.child_key) in linked or _closes_cycle(metadata, rel):
            continue
        if metadata.primary_key(rel.parent_table) not in (None, rel.parent_key):
            continue
        metadata = metadata.with_relationship(rel)
    return metadata


def relationship_candidates(
    data: MultiTable, metadata: MultiTableMetadata
) -> list[tuple[Relationship, float]]:
    """Links not yet in `metadata` that the values support, with the share of child values found
    among the parent's keys; best first (names that fit before names that do not)."""
    return [(rel, score.overlap) for rel, score in _scored_candidates(data, metadata)]


@dataclass(frozen=True)
class _Score:
    name_fits: bool
    overlap: float


def _scored_candidates(
    data: MultiTable, metadata: MultiTableMetadata
) -> list[tuple[Relationship, _Score]]:
    found: list[tuple[Relationship, _Score]] = []
    for parent in metadata.table_names:
        parent_frame = data.tables.get(parent)
        if parent_frame is None:
            continue
        for parent_key in _unique_key_columns(parent_frame, metadata, parent):
            keys = set(comparable_keys(parent_frame[parent_key]))
            for child, column in _possible_foreign_keys(data, metadata, parent):
                name_fits = _name_fits(column, parent, parent_key)
                if not name_fits and metadata.columns(child)[column]["sdtype"] != "id":
                    continue
                overlap = _overlap(data.tables[child][column], keys)
                if overlap >= CANDIDATE_OVERLAP:
                    rel = Relationship(parent, parent_key, child, column)
                    found.append((rel, _Score(name_fits, overlap)))
    found.sort(key=lambda item: (item[1].name_fits, item[1].overlap), reverse=True)
    return found


def _possible_foreign_keys(
    data: MultiTable, metadata: MultiTableMetadata, parent: str
) -> list[tuple[str, str]]:
    """(table, column) pairs of other tables that could point at `parent`: key-like columns that
    are neither their table's primary key nor already a foreign key."""
    linked = {(rel.child_table, rel.child_key) for rel in metadata.relationships}
    pairs = []
    for child in metadata.table_names:
        frame = data.tables.get(child)
        if child == parent or frame is None:
            continue
        described = metadata.columns(child)
        for column in described:
            if (
                column in frame.columns
                and column != metadata.primary_key(child)
                and (child, column) not in linked
                and _key_like(frame[column])
            ):
                pairs.append((child, column))
    return pairs


def _unique_key_columns(frame: pd.DataFrame, metadata: MultiTableMetadata, table: str) -> list[str]:
    """The table's primary key, or (without one) its id columns, when unique and complete."""
    key = metadata.primary_key(table)
    names = (
        [key]
        if key
        else [c for c, spec in metadata.columns(table).items() if spec["sdtype"] == "id"]
    )
    return [
        name
        for name in names
        if name in frame.columns and frame[name].notna().all() and frame[name].is_unique
    ]


def _overlap(child: pd.Series, parent_keys: set[str]) -> float:
    values = comparable_keys(child)
    if values.empty:
        return 0.0
    return float(values.isin(parent_keys).mean())


def _key_like(values: pd.Series) -> bool:
    """Whole numbers or text: what key columns hold (not fractions, dates or true/false)."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        return False
    if pd.api.types.is_float_dtype(values):
        present = values.dropna()
        return bool((present % 1 == 0).all())
    return (
        pd.api.types.is_integer_dtype(values)
        or pd.api.types.is_object_dtype(values)
        or (pd.api.types.is_string_dtype(values))
    )


def _words(name: str) -> set[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return {word for word in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if word}


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _name_fits(child_column: str, parent_table: str, parent_key: str) -> bool:
    """Same name as the parent key, or a name that mentions the parent table (user_id → users)."""
    if child_column.lower() == parent_key.lower():
        return True
    words = {_singular(word) for word in _words(child_column)}
    table_words = {_singular(word) for word in _words(parent_table)}
    return bool(table_words) and table_words <= words


def _closes_cycle(metadata: MultiTableMetadata, rel: Relationship) -> bool:
    """True when the child already reaches the parent through existing links (or is the parent)."""
    children: dict[str, set[str]] = {}
    for existing in metadata.relationships:
        children.setdefault(existing.parent_table, set()).add(existing.child_table)
    seen, stack = set(), [rel.child_table]
    while stack:
        table = stack.pop()
        if table == rel.parent_table:
            return True
        if table not in seen:
            seen.add(table)
            stack.extend(children.get(table, ()))
    return False
