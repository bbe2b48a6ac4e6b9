"""Bench-only Triton python-backend model ``text_raw``: raw post texts in, probabilities out.

``bench/triton.py`` copies this file as ``text_raw/1/model.py`` beside the text artifact's
``model.onnx``, ``tokenizer.json`` and ``metadata.json``, to measure what moving tokenization
from the gateway into Triton would change. It runs the gateway's own text path server-side:
``modgate.textnorm.normalize_text``, ``models.text_encoding.TextEncoder`` (special tokens and
``max_tokens`` from ``metadata.json``), one onnxruntime run. Requests the dynamic batcher
hands over together are encoded as one batch (their texts may differ in length: the encoder
pads them to one length bucket), run once, and split back per request. The repository root
comes from the ``modgate_root`` parameter and goes on ``sys.path`` in ``initialize``, after
the ``site_packages`` directories, so that numpy, tokenizers and onnxruntime come from the
Triton virtualenv. Never shipped: production keeps tokenization in the gateway.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
METADATA_FILE = "metadata.json"
INPUT_NAME = "text"
OUTPUT_NAME = "probabilities"


def prepend_site_packages(value: str | None) -> None:
    """Put each ``os.pathsep``-separated directory in ``value`` at the front of ``sys.path``."""
    for directory in reversed([d for d in (value or "").split(os.pathsep) if d]):
        if directory in sys.path:
            sys.path.remove(directory)
        sys.path.insert(0, directory)


# The stub's interpreter ignores PYTHONPATH and imports numpy after this module but before
# ``initialize``: apply PYTHONPATH at import (see export/triton_python_model.py).
prepend_site_packages(os.environ.get("PYTHONPATH"))


def _parameter(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get("parameters", {}).get(key, {}).get("string_value")
    return str(value) if value else None


class TritonPythonModel:
    """Normalize, tokenize and run the text model inside Triton, one batch per execute."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        prepend_site_packages(_parameter(config, "site_packages"))
        root = _parameter(config, "modgate_root")
        if not root:
            raise RuntimeError("text_raw needs the modgate_root parameter (the repository root)")
        if root not in sys.path:
            sys.path.append(root)  # after site-packages: modgate's code, the venv's libraries
        import onnxruntime as ort

        from models.text_encoding import TextEncoder
        from modgate.textnorm import normalize_text

        version_dir = Path(args["model_repository"]) / args["model_version"]
        metadata = json.loads((version_dir / METADATA_FILE).read_text(encoding="utf-8"))
        special = metadata["special_tokens"]
        self.encoder = TextEncoder.from_file(
            version_dir / TOKENIZER_FILE,
            bos=special["bos"],
            eos=special["eos"],
            pad=special["pad"],
            max_tokens=int(metadata["max_tokens"]),
        )
        self.normalize = normalize_text
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(_parameter(config, "intra_op_threads") or 1)
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(version_dir / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self.model = f"{config['name']}/{args['model_version']}"

    def probabilities(self, texts: Sequence[str]) -> Any:
        """``float32[len(texts), categories]`` for raw texts, as one padded batch."""
        batch = self.encoder.encode([self.normalize(t).text for t in texts])
        feeds = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask}
        return self.session.run([OUTPUT_NAME], feeds)[0]

    def execute(self, requests: Sequence[Any]) -> list[Any]:
        import numpy as np
        import triton_python_backend_utils as pb_utils

        try:
            per_request = [
                [
                    raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
                    for raw in pb_utils.get_input_tensor_by_name(r, INPUT_NAME)
                    .as_numpy()
                    .reshape(-1)
                ]
                for r in requests
            ]
            probs = self.probabilities([t for texts in per_request for t in texts])
        except Exception as exc:  # the backend boundary: the error goes back as the response
            message = f"{self.model}: {exc}"
            if hasattr(pb_utils, "Logger"):
                pb_utils.Logger.log_error(message)
            error = pb_utils.TritonError(message)
            return [pb_utils.InferenceResponse(error=error) for _ in requests]
        responses = []
        start = 0
        for texts in per_request:
            # astype copies: a Tensor made from a view of a larger array reaches the client empty.
            rows = probs[start : start + len(texts)].astype(np.float32)
            start += len(texts)
            tensor = pb_utils.Tensor(OUTPUT_NAME, rows)
            responses.append(pb_utils.InferenceResponse(output_tensors=[tensor]))
        return responses

    def finalize(self) -> None:
        self.session = None
