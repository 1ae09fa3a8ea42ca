"""Related tables read from several files, a zip or a folder, and the two bundled demos."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from synth_core.errors import FileTooLargeError, InputFileError, UnsupportedFormatError
from synth_core.io import LoadLimits
from synth_core.multitable.dataset import (
    MAX_ZIP_MEMBERS,
    MULTI_DEMOS,
    load_multi_demo,
    read_tables,
    read_tables_path,
)


@pytest.fixture(scope="module")
def shop_csvs() -> dict[str, bytes]:
    data, _ = load_multi_demo("web_shop")
    return {
        f"{name}.csv": frame.to_csv(index=False).encode() for name, frame in data.tables.items()
    }


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_registry_describes_both_demos() -> None:
    assert set(MULTI_DEMOS) == {"web_shop", "travel_modes"}
    for key, demo in MULTI_DEMOS.items():
        assert demo.key == key
        assert demo.title and demo.description and demo.source and demo.licence
        data, _ = load_multi_demo(key)
        assert tuple(data.tables) == demo.tables
        assert data.total_rows == demo.rows
        assert data.source == f"demo:{key}"


def test_web_shop_demo_ships_its_own_metadata() -> None:
    data, metadata = load_multi_demo("web_shop")

    assert metadata is not None
    assert set(metadata["tables"]) == set(data.tables) == {"users", "sessions", "transactions"}
    assert len(metadata["relationships"]) == 2


def test_travel_modes_is_210_travellers_with_four_options_each() -> None:
    data, metadata = load_multi_demo("travel_modes")
    individuals, choices = data.tables["individuals"], data.tables["mode_choices"]

    assert metadata is None
    assert list(individuals.columns) == ["individual_id", "hinc", "psize"]
    assert list(choices.columns) == [
        *("choice_id", "individual_id", "mode", "choice"),
        *("ttme", "invc", "invt", "gc"),
    ]
    assert individuals["individual_id"].is_unique and len(individuals) == 210
    assert choices["choice_id"].is_unique and len(choices) == 840
    assert choices.groupby("individual_id").size().eq(4).all()
    assert choices.groupby("individual_id")["choice"].sum().eq(1).all()
    assert set(choices["mode"]) == {"air", "train", "bus", "car"}
    assert (choices.loc[choices["mode"] == "car", "ttme"] == 0).all()


def test_unknown_demo_lists_the_demos() -> None:
    with pytest.raises(InputFileError) as caught:
        load_multi_demo("fake_hotels")
    assert "web_shop" in caught.value.user_message()
    assert "travel_modes" in caught.value.user_message()


def test_several_files_read_as_tables_in_the_order_given(shop_csvs: dict[str, bytes]) -> None:
    data = read_tables(shop_csvs)

    assert list(data.tables) == ["users", "sessions", "transactions"]
    assert data.source == "upload"
    assert data.total_rows == 30
    assert data.tables["transactions"]["amount"].dtype.kind == "f"


def test_zip_with_three_csvs_reads_and_skips_the_clutter(shop_csvs: dict[str, bytes]) -> None:
    members = {f"export/{name}": content for name, content in shop_csvs.items()}
    members |= {
        "__MACOSX/export/._users.csv": b"\x00\x05junk",
        "export/.DS_Store": b"\x00\x00",
        "export/README.md": b"# tables",
        "export/metadata.json": b'{"tables": {}, "relationships": []}',
    }
    data = read_tables({"shop.zip": _zip(members)})

    assert list(data.tables) == ["users", "sessions", "transactions"]
    assert data.source == "zip"
    assert data.metadata_text == '{"tables": {}, "relationships": []}'
    assert any("README.md" in note for note in data.notes)


def test_folder_and_zip_on_disk_read(shop_csvs: dict[str, bytes], tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    for name, content in shop_csvs.items():
        (folder / name).write_bytes(content)
    (folder / ".hidden.csv").write_bytes(b"a\n1\n")
    archive = tmp_path / "shop.zip"
    archive.write_bytes(_zip(shop_csvs))

    from_folder = read_tables_path(folder)
    from_zip = read_tables_path(archive)

    assert set(from_folder.tables) == set(from_zip.tables) == {"users", "sessions", "transactions"}
    assert (from_folder.source, from_zip.source) == ("folder", "zip")
    with pytest.raises(UnsupportedFormatError, match="single file"):
        read_tables_path(folder / "users.csv")
    with pytest.raises(InputFileError, match="no folder or file"):
        read_tables_path(tmp_path / "missing")


def test_not_a_zip_is_a_clear_error() -> None:
    with pytest.raises(InputFileError, match="not a readable zip"):
        read_tables({"tables.zip": b"these are not zip bytes"})


def test_path_traversal_in_a_zip_is_refused(shop_csvs: dict[str, bytes]) -> None:
    members = dict(shop_csvs) | {"../../etc/evil.csv": b"a\n1\n"}
    with pytest.raises(InputFileError, match="unsafe path"):
        read_tables({"tables.zip": _zip(members)})


def test_zip_bomb_is_refused_by_the_byte_limit(shop_csvs: dict[str, bytes]) -> None:
    bomb = b"a,b\n" + b"0,0\n" * 500_000  # 2 MB that compresses to a few KB
    archive = _zip(dict(shop_csvs) | {"bomb.csv": bomb})

    assert len(archive) < 50_000
    with pytest.raises(FileTooLargeError, match="unpacks to more than"):
        read_tables({"tables.zip": archive}, limits=LoadLimits(max_bytes=1_000_000))


def test_zip_with_too_many_members_is_refused() -> None:
    members = {f"t{index}.csv": b"a\n1\n" for index in range(MAX_ZIP_MEMBERS + 1)}
    with pytest.raises(FileTooLargeError, match="entries"):
        read_tables({"tables.zip": _zip(members)})


def test_zip_with_one_table_or_none_says_so(shop_csvs: dict[str, bytes]) -> None:
    with pytest.raises(InputFileError, match="Only one table"):
        read_tables({"one.zip": _zip({"users.csv": shop_csvs["users.csv"]})})
    with pytest.raises(InputFileError, match="No table files"):
        read_tables({"none.zip": _zip({"notes.md": b"hello"})})


def test_duplicate_table_names_name_both_files(shop_csvs: dict[str, bytes]) -> None:
    members = dict(shop_csvs) | {"old/users.csv": shop_csvs["users.csv"]}
    with pytest.raises(InputFileError) as caught:
        read_tables({"tables.zip": _zip(members)})
    assert "'users'" in caught.value.message


def test_an_unreadable_uploaded_file_is_an_error_not_skipped(shop_csvs: dict[str, bytes]) -> None:
    with pytest.raises(UnsupportedFormatError):
        read_tables(dict(shop_csvs) | {"notes.md": b"hello"})
