"""This installation's signing key, the bundle's HMAC signature, and keyed digests of real PII."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from synth_core.bundle.archive import BUNDLE_KIND, SIGNATURE
from synth_core.errors import BundleError, UntrustedBundleError
from synth_core.hybrid.pii import normalised_value, pii_columns
from synth_core.metadata import TableMetadata

HOME_ENV = "SYNTH_WORKBENCH_HOME"
KEY_FILE = "bundle-signing.key"
_DIGEST_BYTES = 16  # keyed digests of real PII values
TRUST_HINT = "Only if you trust where it came from, tick 'Trust this bundle' (CLI: --trust-bundle)."


def signing_key_path() -> Path:
    """This installation's bundle-signing key: in $SYNTH_WORKBENCH_HOME, else ~/.synth-workbench."""
    home = os.environ.get(HOME_ENV, "").strip()
    folder = Path(home).expanduser() if home else Path.home() / ".synth-workbench"
    return folder / KEY_FILE


def signing_key(*, create: bool) -> bytes | None:
    """The 32-byte key at `signing_key_path()`; None when absent and not `create`."""
    path = signing_key_path()
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        return _new_key(path) if create else None
    except OSError as error:
        raise BundleError(f"The bundle-signing key at {path} cannot be read ({error}).") from error
    if len(key) != 32:
        raise BundleError(
            f"The bundle-signing key at {path} is damaged.",
            "Delete it and the workbench makes a new one; bundles signed with the old key will "
            "then need 'Trust this bundle'.",
        )
    return key


def _new_key(path: Path) -> bytes:
    """32 random bytes in a file only this user can read, created once even if two runs race."""
    key = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        draft = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
        handle = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "wb") as file:
            file.write(key)
        try:
            os.link(draft, path)  # fails when another run created the key first
        except FileExistsError:
            return signing_key(create=False) or key
        except OSError:  # a file system without hard links
            os.replace(draft, path)
        finally:
            draft.unlink(missing_ok=True)
    except OSError as error:
        raise BundleError(
            f"The bundle-signing key could not be created at {path} ({error}).",
            f"Set {HOME_ENV} to a folder the workbench may write to.",
        ) from error
    return key


def _key_id(key: bytes) -> str:
    return hmac.new(key, b"key-id", hashlib.sha256).hexdigest()[:16]


def _guard_key(key: bytes) -> bytes:
    return hmac.new(key, b"pii-guard", hashlib.sha256).digest()


def _digest(guard_key: bytes, value: str) -> bytes:
    data = value.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, key=guard_key, digest_size=_DIGEST_BYTES).digest()


def signature(members: Mapping[str, bytes], key: bytes) -> dict[str, Any]:
    """signature.json's content: an HMAC over every member's name and bytes."""
    mac = hmac.new(key, BUNDLE_KIND.encode("ascii"), hashlib.sha256)
    for name in sorted(members):
        for part in (name.encode("utf-8"), members[name]):
            mac.update(len(part).to_bytes(8, "big"))  # lengths: no two bundles sign alike
            mac.update(part)
    return {
        "algorithm": "HMAC-SHA256",
        "key_id": _key_id(key),
        "members": sorted(members),
        "signature": mac.hexdigest(),
    }


def check_signature(
    members: Mapping[str, bytes], key: bytes | None, *, holds_model: bool, trust: bool
) -> bool:
    """True when this installation signed the bundle; raises unless trusted or harmless."""
    signed = {name: data for name, data in members.items() if name != SIGNATURE}
    claimed_key, mac = _signature_of(members)
    if (
        key is not None
        and mac is not None
        and hmac.compare_digest(signature(signed, key)["signature"], mac)
    ):
        return True
    if trust or not holds_model:
        return False  # the user trusts it, or nothing in it can run code
    if key is not None and mac is not None and claimed_key == _key_id(key):
        opening = "This bundle was changed after this workbench wrote it"
    else:
        where = "it is not signed" if mac is None else "it was signed by another installation"
        opening = f"This bundle was not written by this workbench ({where})"
    raise UntrustedBundleError(
        f"{opening}. It contains a pickled model, and loading a pickle can run code.",
        TRUST_HINT,
    )


def _signature_of(members: Mapping[str, bytes]) -> tuple[str | None, str | None]:
    """(key id, signature) from signature.json; (None, None) when absent or unreadable."""
    try:
        signature = json.loads(members[SIGNATURE].decode("utf-8"))
        key_id, mac = signature["key_id"], signature["signature"]
    except (KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
        return None, None
    if not isinstance(mac, str):
        return None, None
    return (key_id if isinstance(key_id, str) else None), mac


def pii_guard(real: pd.DataFrame, metadata: TableMetadata, key: bytes) -> dict[str, str]:
    """Per PII column, keyed digests of its real values (base64): never the values themselves."""
    guard_key = _guard_key(key)
    guard = {}
    for column in pii_columns(metadata):
        if column in real.columns:
            values = {normalised_value(value) for value in real[column].dropna()}
            digests = sorted(_digest(guard_key, value) for value in values)
            guard[column] = base64.b64encode(b"".join(digests)).decode("ascii")
    return guard


def guard_from(data: bytes, key: bytes) -> dict[str, _DigestSet]:
    try:
        columns = json.loads(data.decode("utf-8"))["columns"]
        guard_key = _guard_key(key)
        return {
            str(column): _DigestSet(guard_key, base64.b64decode(text))
            for column, text in columns.items()
        }
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise BundleError(f"The bundle's pii_guard.json cannot be read ({error}).") from error


class _DigestSet:
    """Answers `value in guard` for normalised PII values, from their keyed digests only."""

    def __init__(self, guard_key: bytes, packed: bytes) -> None:
        self._key = guard_key
        size = _DIGEST_BYTES
        self._digests = {packed[i : i + size] for i in range(0, len(packed), size)}

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and _digest(self._key, value) in self._digests
