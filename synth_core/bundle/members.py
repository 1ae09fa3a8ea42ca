"""A bundle's members as objects: the pickled model, the metadata, the synthetic rows."""

from __future__ import annotations

import contextlib
import io
import pickle
from collections.abc import Mapping
from typing import Any

import pandas as pd

from synth_core.backends.base import Backend, readable_error
from synth_core.backends.llm import LLMBackend
from synth_core.bundle.manifest import changed_versions
from synth_core.errors import BundleError, MetadataError
from synth_core.metadata import TableMetadata


def pickled_model(backend: Backend) -> bytes | None:
    if isinstance(backend, LLMBackend):
        return None  # it holds endpoint settings (the key); its rows come from the endpoint
    try:
        return pickle.dumps(backend, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:  # any object in the model may refuse to pickle
        raise BundleError(
            f"The {backend.label} model could not be saved: {readable_error(error)}",
            "Export the rows instead, or generate with another backend.",
        ) from error


def metadata_of(data: bytes) -> TableMetadata:
    try:
        return TableMetadata.from_json(data.decode("utf-8"))
    except (UnicodeDecodeError, MetadataError) as error:
        raise BundleError(f"The bundle's metadata.json cannot be read: {error}") from error


def unpickled_model(data: bytes, manifest: Mapping[str, Any]) -> Backend:
    try:
        backend = pickle.loads(data)
    except Exception as error:  # a pickle from other library versions fails in many ways
        changed = changed_versions(manifest)
        raise BundleError(
            f"The model in this bundle could not be loaded: {readable_error(error)}",
            f"It was saved with other library versions ({changed}): install those, or "
            "generate again."
            if changed
            else "Write the bundle again from the workbench.",
        ) from error
    if not isinstance(backend, Backend) or not backend.is_fitted:
        raise BundleError("The bundle's synthesizer.pkl is not a fitted workbench model.")
    if backend.key != manifest.get("backend_key"):
        raise BundleError(
            f"The bundle's model is a {backend.key!r} backend, but its manifest says "
            f"{manifest.get('backend_key')!r}."
        )
    return backend


def data_of(data: bytes, manifest: Mapping[str, Any]) -> pd.DataFrame:
    dtypes = {
        str(entry.get("name")): str(entry.get("dtype"))
        for entry in manifest.get("columns", [])
        if isinstance(entry, dict)
    }
    text_columns = {name: object for name, dtype in dtypes.items() if dtype == "object"}
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=text_columns)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise BundleError(f"The bundle's data.csv cannot be read ({error}).") from error
    for name, dtype in dtypes.items():
        if name in frame and dtype != "object" and str(frame[name].dtype) != dtype:
            # e.g. a nullable integer column that CSV turned into floats; else as CSV gave it
            with contextlib.suppress(TypeError, ValueError):
                frame[name] = frame[name].astype(dtype)
    return frame
