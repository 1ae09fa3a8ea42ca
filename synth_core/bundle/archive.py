"""A bundle's members, written as one zip and read back with guards on names, count and size."""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Mapping
from datetime import datetime

from synth_core.errors import BundleError

BUNDLE_FORMAT = 1
BUNDLE_KIND = "synth-workbench-run-bundle"
MAX_BUNDLE_BYTES = 2 * 1024**3  # all members together, uncompressed: a zip-bomb guard
MAX_MEMBERS = 16
MANIFEST, METADATA, SYNTHESIZER = "manifest.json", "metadata.json", "synthesizer.pkl"
DATA, REPORT, PII_GUARD, SIGNATURE = "data.csv", "report.html", "pii_guard.json", "signature.json"
VOCABULARIES, ROW_TEXT = "vocabularies.json", "row_text.json"
MEMBERS = (
    MANIFEST,
    METADATA,
    SYNTHESIZER,
    DATA,
    REPORT,
    PII_GUARD,
    VOCABULARIES,
    ROW_TEXT,
    SIGNATURE,
)
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
LOAD_HINT = "Choose a .zip written by the Export page or by `generate ... --bundle-out`."


def zipped(members: Mapping[str, bytes]) -> bytes:
    """The members as one deflated zip, in the order given."""
    buffer = io.BytesIO()
    moment = datetime.now().timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=moment)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def read_members(data: bytes, *, max_bytes: int = MAX_BUNDLE_BYTES) -> dict[str, bytes]:
    """A bundle zip's members by name; BundleError if it is none or unpacks past `max_bytes`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise BundleError(f"Expected the bundle's bytes, got {type(data).__name__}.", LOAD_HINT)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            _check_names([info.filename for info in infos])
            if sum(info.file_size for info in infos) > max_bytes:
                raise _too_large(max_bytes)
            return {info.filename: _read_capped(archive, info, max_bytes) for info in infos}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as error:
        raise BundleError(
            f"This file is not a run bundle, or it is damaged or cut short ({error}).", LOAD_HINT
        ) from error
    except RuntimeError as error:  # zipfile's word for an encrypted member
        raise BundleError(f"This run bundle cannot be read: {error}.", LOAD_HINT) from error


def _check_names(names: list[str]) -> None:
    if len(names) > MAX_MEMBERS:
        raise BundleError(
            f"This file holds {len(names):,} files; a run bundle holds at most {MAX_MEMBERS}.",
            LOAD_HINT,
        )
    for name in names:
        if not _SAFE_NAME.fullmatch(name) or name in (".", ".."):
            raise BundleError(
                f"This bundle contains a file with an unsafe path ({name!r}): a run bundle "
                "holds only plain file names, so it was not opened.",
                LOAD_HINT,
            )
        if name not in MEMBERS:
            raise BundleError(
                f"This bundle contains a file a run bundle does not have ({name!r}).", LOAD_HINT
            )
    if len(set(names)) != len(names):
        raise BundleError("This bundle contains the same file twice.", LOAD_HINT)


def _read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int) -> bytes:
    # The sizes in the zip's directory can lie: count what actually comes out.
    chunks, total = [], 0
    with archive.open(info) as stream:
        while chunk := stream.read(1024 * 1024):
            total += len(chunk)
            if total > max_bytes:
                raise _too_large(max_bytes)
            chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_bytes: int) -> BundleError:
    return BundleError(
        f"This bundle unpacks to more than {max_bytes // 1024**3} GiB, so it was not opened.",
        "Write the bundle without its data (the model regenerates the rows).",
    )
