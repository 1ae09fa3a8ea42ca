"""Several related tables read together: uploaded files, a zip of them, a folder, or a bundled demo.

Each file is read with `synth_core.io.read_table`; zips are read in memory (nothing is extracted to
disk), with caps on their total uncompressed size and member count.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pandas as pd

from synth_core.errors import FileTooLargeError, InputFileError, UnsupportedFormatError
from synth_core.io import (
    SUPPORTED_EXTENSIONS,
    LoadLimits,
    read_table,
    table_name_from_filename,
)

# A zip with more entries than this is refused before anything is decompressed.
MAX_ZIP_MEMBERS = 200
# More tables than this is no longer a dataset HMA (or a person) can work with.
MAX_TABLES = 50
_READ_CHUNK = 1024 * 1024
_DEFAULT_LIMITS = LoadLimits()


@dataclass(frozen=True, eq=False)
class MultiTable:
    """Related tables by name, in the order given, and where they came from."""

    tables: dict[str, pd.DataFrame]
    source: str  # "upload" | "zip" | "folder" | "demo:<key>"
    notes: tuple[str, ...] = ()  # reading notes, each prefixed by its table name
    # The text of an SDV metadata JSON found among the files (e.g. in a zip this workbench
    # exported), so the caller can offer it instead of detecting the metadata again.
    metadata_text: str | None = None

    @property
    def total_rows(self) -> int:
        return sum(len(frame) for frame in self.tables.values())


@dataclass(frozen=True)
class MultiDemo:
    key: str
    title: str
    description: str
    source: str
    licence: str
    tables: tuple[str, ...] = ()
    rows: int = 0  # rows over all tables


MULTI_DEMOS: dict[str, MultiDemo] = {
    "web_shop": MultiDemo(
        key="web_shop",
        title="Users, sessions and transactions",
        description="A small web-shop dataset: users, their sessions (device, OS) and the "
        "transactions made in each session. Users → sessions → transactions.",
        source="sdmetrics (sdmetrics.demos.load_demo('multi_table'), real tables)",
        licence="SDV's multi-table demo data, bundled with sdmetrics (MIT licence).",
        tables=("users", "sessions", "transactions"),
        rows=30,
    ),
    "travel_modes": MultiDemo(
        key="travel_modes",
        title="Travel mode choice (Greene & Hensher, 1997)",
        description="210 travellers between Sydney and Melbourne (income, party size) and, for "
        "each, the air, train, bus and car options with cost, time and the one chosen.",
        source="statsmodels (statsmodels.datasets.modechoice)",
        licence="Public domain; Greene & Hensher (1997), bundled with statsmodels.",
        tables=("individuals", "mode_choices"),
        rows=210 + 840,
    ),
}


def load_multi_demo(key: str) -> tuple[MultiTable, dict | None]:
    """The demo's tables, and its own SDV metadata dict when it ships one (None: detect it)."""
    demo = MULTI_DEMOS.get(key)
    if demo is None:
        raise InputFileError(
            f"There is no multi-table demo called '{key}'.",
            f"Choose one of: {', '.join(MULTI_DEMOS)}.",
        )
    try:
        tables, metadata = _DEMO_LOADERS[key]()
    except (ImportError, OSError) as exc:
        raise InputFileError(
            f"The demo '{demo.title}' could not be loaded from {demo.source}.",
            "Reinstall the project's requirements (requirements.txt).",
        ) from exc
    data = MultiTable(
        tables={name: frame.reset_index(drop=True) for name, frame in tables.items()},
        source=f"demo:{key}",
        notes=(f"Demo dataset: {demo.title}. {demo.licence}",),
    )
    return data, metadata


def _sdmetrics_demo() -> tuple[dict[str, pd.DataFrame], dict | None]:
    from sdmetrics.demos import load_demo

    real_tables, _synthetic, metadata = load_demo("multi_table")
    return dict(real_tables), _without_digit_regexes(metadata)


def _without_digit_regexes(metadata: dict) -> dict:
    """The demo's integer keys carry a digits regex ("\\d{1,30}") that SDV 2.0 refuses for ints
    (it would allow a leading 0); integer keys need no regex to be generated."""
    tidied = copy.deepcopy(metadata)
    for table in tidied.get("tables", {}).values():
        for spec in table.get("columns", {}).values():
            if spec.get("sdtype") == "id" and spec.get("regex_format", "").startswith("\\d"):
                del spec["regex_format"]
    return tidied


def _travel_modes() -> tuple[dict[str, pd.DataFrame], dict | None]:
    """Greene & Hensher's mode choice data (840 rows = 210 individuals x 4 modes) as two tables.

    individuals (one row per traveller):
        individual_id  the traveller (1-210); primary key
        hinc           household income, in $1000s
        psize          travelling group size in the mode chosen (people)
    mode_choices (one row per traveller and travel mode, 4 per traveller):
        choice_id      the row (1-840); primary key
        individual_id  the traveller; foreign key to individuals
        mode           "air", "train", "bus" or "car"
        choice         1 when the traveller chose this mode, else 0 (one chosen per traveller)
        ttme           terminal waiting time in minutes (0 for car)
        invc           in-vehicle cost for all stages, in dollars
        invt           in-vehicle travel time for all stages, in minutes
        gc             generalised cost: invc + invt x value of travel time savings, in dollars
    """
    from statsmodels.datasets import modechoice

    raw = modechoice.load_pandas().data
    raw = raw.rename(columns={"individual": "individual_id"})
    raw["individual_id"] = raw["individual_id"].astype("int64")
    individuals = (
        raw.groupby("individual_id", as_index=False, sort=True)[["hinc", "psize"]]
        .first()
        .astype({"hinc": "int64", "psize": "int64"})
    )
    choices = raw.drop(columns=["hinc", "psize"]).reset_index(drop=True)
    choices["mode"] = choices["mode"].astype("int64").map(_TRAVEL_MODES)
    choices = choices.astype({"choice": "int64", "ttme": "int64", "invc": "int64", "invt": "int64"})
    choices["gc"] = choices["gc"].astype("int64")
    choices.insert(0, "choice_id", range(1, len(choices) + 1))
    return {"individuals": individuals, "mode_choices": choices}, None


_TRAVEL_MODES = {1: "air", 2: "train", 3: "bus", 4: "car"}

_DEMO_LOADERS: dict[str, Callable[[], tuple[dict[str, pd.DataFrame], dict | None]]] = {
    "web_shop": _sdmetrics_demo,
    "travel_modes": _travel_modes,
}


# --- reading files -----------------------------------------------------------------------------


def read_tables(files: Mapping[str, bytes], *, limits: LoadLimits = _DEFAULT_LIMITS) -> MultiTable:
    """Read several table files (file name -> bytes); a .zip among them is expanded in memory.

    The table name is the file's stem. Duplicate names, no tables or a single table raise
    InputFileError with a message that says which files are involved.
    """
    if not files:
        raise InputFileError(
            "No files were given.", "Upload two or more table files, or one zip holding them."
        )
    members: list[tuple[str, bytes]] = []
    zipped = False
    for filename, data in files.items():
        if PurePosixPath(filename.replace("\\", "/")).suffix.lower() == ".zip":
            zipped = True
            members.extend(_zip_members(data, _shown(filename), limits))
        else:
            members.append((filename, data))
    source = "zip" if zipped and len(files) == 1 else "upload"
    return _read_members(members, source, limits, strict=not zipped)


def read_tables_path(path: str | Path, *, limits: LoadLimits = _DEFAULT_LIMITS) -> MultiTable:
    """Read a folder of table files (not its subfolders), or a .zip file, from disk."""
    location = Path(path)
    if location.is_dir():
        return _read_members(
            list(_folder_members(location, limits)), "folder", limits, strict=False
        )
    if not location.is_file():
        raise InputFileError(
            f"There is no folder or file at '{location}'.", "Check the path and its spelling."
        )
    if location.suffix.lower() != ".zip":
        raise UnsupportedFormatError(
            f"'{location.name}' is a single file; related tables need a folder or a .zip.",
            "Put the table files in one folder (or zip them) and give that instead.",
        )
    _check_total(location.stat().st_size, location.name, limits)
    data = _read_file(location)
    return _read_members(_zip_members(data, location.name, limits), "zip", limits, strict=False)


def _read_members(
    members: list[tuple[str, bytes]], source: str, limits: LoadLimits, *, strict: bool
) -> MultiTable:
    """Read each member as a table. `strict`: an unreadable kind of file is an error, not skipped."""
    tables: dict[str, pd.DataFrame] = {}
    origin: dict[str, str] = {}
    notes: list[str] = []
    metadata_text: str | None = None
    for filename, data in members:
        shown = _shown(filename)
        extension = PurePosixPath(shown).suffix.lower()
        if extension not in SUPPORTED_EXTENSIONS and not strict:
            notes.append(f"Skipped '{shown}': not a table file.")
            continue
        if extension == ".json" and _looks_like_sdv_metadata(data):
            metadata_text = data.decode("utf-8")
            notes.append(f"'{shown}' holds SDV metadata, not a table; it was not read as one.")
            continue
        name = table_name_from_filename(shown)
        if name in tables:
            raise InputFileError(
                f"Two files give a table named '{name}': '{origin[name]}' and '{shown}'.",
                "Rename one of them: each table needs its own file name.",
            )
        loaded = read_table(data, shown, limits=limits)
        tables[name] = loaded.frame
        origin[name] = shown
        notes.extend(f"{name}: {note}" for note in loaded.notes)
    _check_table_count(tables, notes)
    return MultiTable(tables=tables, source=source, notes=tuple(notes), metadata_text=metadata_text)


def _check_table_count(tables: dict[str, pd.DataFrame], notes: list[str]) -> None:
    if not tables:
        skipped = " ".join(notes[:3])
        raise InputFileError(
            f"No table files were found. {skipped}".strip(),
            f"Give CSV, Excel, Parquet or JSON files ({', '.join(SUPPORTED_EXTENSIONS)}).",
        )
    if len(tables) == 1:
        (name,) = tables
        raise InputFileError(
            f"Only one table was found ('{name}'); related tables need two or more.",
            "Add the other tables' files, or work with this one on the Data page.",
        )
    if len(tables) > MAX_TABLES:
        raise FileTooLargeError(
            f"{len(tables)} tables were found, above the limit of {MAX_TABLES}.",
            "Keep the tables that belong together and leave the others out.",
        )


# --- zips and folders --------------------------------------------------------------------------


def _zip_members(data: bytes, shown: str, limits: LoadLimits) -> list[tuple[str, bytes]]:
    """The zip's files as (name, bytes), read in memory within the byte limit."""
    _check_total(len(data), shown, limits)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise InputFileError(
            f"'{shown}' is not a readable zip file.", "Zip the table files again and re-upload."
        ) from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise FileTooLargeError(
                f"'{shown}' holds {len(infos):,} entries, above the limit of {MAX_ZIP_MEMBERS}.",
                "Zip only the table files that belong together.",
            )
        wanted = [info for info in infos if _is_table_candidate(info, shown)]
        # Declared sizes are checked first; the reads are capped too, since headers can lie.
        _check_total(sum(info.file_size for info in wanted), shown, limits, unpacked=True)
        budget = limits.max_bytes
        members = []
        for info in wanted:
            content = _read_member(archive, info, shown, budget, limits)
            budget -= len(content)
            members.append((PurePosixPath(info.filename).name, content))
    return members


def _is_table_candidate(info: zipfile.ZipInfo, shown: str) -> bool:
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or ".." in parts or (parts and parts[0].endswith(":")):
        raise InputFileError(
            f"'{shown}' contains an unsafe path ('{info.filename}').",
            "Zip the table files again from their own folder.",
        )
    if info.is_dir() or not parts:
        return False
    # macOS resource forks and hidden files ride along in many zips; they are never tables.
    return not any(part == "__MACOSX" or part.startswith(".") for part in parts)


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, shown: str, budget: int, limits: LoadLimits
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(_READ_CHUNK):
                size += len(chunk)
                if size > budget:
                    raise _too_large(shown, limits, unpacked=True)
                chunks.append(chunk)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
        # RuntimeError: encrypted member; NotImplementedError: unknown compression method.
        raise InputFileError(
            f"'{info.filename}' inside '{shown}' could not be unpacked ({exc}).",
            "Zip the files again without a password, using ordinary (deflate) compression.",
        ) from exc
    return b"".join(chunks)


def _folder_members(folder: Path, limits: LoadLimits) -> Iterator[tuple[str, bytes]]:
    files = sorted(
        entry for entry in folder.iterdir() if entry.is_file() and not entry.name.startswith(".")
    )
    tables = [entry for entry in files if entry.suffix.lower() in SUPPORTED_EXTENSIONS]
    _check_total(sum(entry.stat().st_size for entry in tables), folder.name, limits)
    for entry in tables:
        yield entry.name, _read_file(entry)


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputFileError(
            f"'{path.name}' could not be opened ({exc.strerror or exc}).",
            "Check that the file is readable.",
        ) from exc


def _check_total(size: int, shown: str, limits: LoadLimits, *, unpacked: bool = False) -> None:
    if size > limits.max_bytes:
        raise _too_large(shown, limits, unpacked=unpacked)


def _too_large(shown: str, limits: LoadLimits, *, unpacked: bool) -> FileTooLargeError:
    what = "unpacks to more than" if unpacked else "is larger than"
    megabytes = limits.max_bytes / 1024 / 1024
    limit = f"{megabytes:,.0f} MB" if megabytes >= 1 else f"{limits.max_bytes:,} bytes"
    return FileTooLargeError(
        f"'{shown}' {what} the {limit} limit.",
        "Leave out tables you do not need, or sample them down first.",
    )


def _looks_like_sdv_metadata(data: bytes) -> bool:
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(parsed, dict) and (
        "METADATA_SPEC_VERSION" in parsed or isinstance(parsed.get("tables"), dict)
    )


def _shown(filename: str) -> str:
    return PurePosixPath(filename.replace("\\", "/")).name or filename
