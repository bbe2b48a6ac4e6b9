"""Model artifacts on disk: a model file plus the ``metadata.json`` beside it that says what
the model is (kind, version, categories, input/output layout). One reader for every kind."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from models.errors import ArtifactError

METADATA_FILE = "metadata.json"


def read_metadata(model_path: Path, *, name: str) -> dict[str, Any]:
    """The JSON object in ``metadata.json`` beside ``model_path``, or ArtifactError."""
    meta_path = model_path.with_name(METADATA_FILE)
    try:
        document = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(name, "unknown", f"cannot read {meta_path}: {exc}") from exc
    if not isinstance(document, dict):
        raise ArtifactError(name, "unknown", f"{meta_path}: expected a JSON object")
    return document


def metadata_checker(
    metadata: dict[str, Any], path: Path, *, name: str, kind: str, required: Sequence[str]
) -> Callable[[str], ArtifactError]:
    """Check ``kind`` and the ``required`` keys of a model's metadata; return ``fail(message)``,
    which builds an ArtifactError naming the model, its version and the file."""
    version = str(metadata.get("version", "unknown"))

    def fail(message: str) -> ArtifactError:
        return ArtifactError(name, version, f"{path}: {message}")

    missing = [k for k in required if k not in metadata]
    if missing:
        raise fail(f"missing keys {missing}")
    if metadata["kind"] != kind:
        raise fail(f"kind is {metadata['kind']!r}, expected {kind!r}")
    return fail
