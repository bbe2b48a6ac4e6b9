"""The shipped text model's held-out test split, for benchmarks and quality reports.

The split is rebuilt from ``../shared/data`` (``MODGATE_DATA_DIR``) with the seed recorded in
``models/artifacts/text/metrics.json``, exactly as ``modgate train text`` / ``modgate export
text`` built it: the training corpora's group-aware test split (our functional and harm cases
included, split by template). Training and threshold calibration never saw these rows. Next
to it, the ``eval_only`` corpora (measurement only, never trained on) are written whole.

``python -m bench.heldout [--out build/heldout/text-test.jsonl]`` writes the test split as JSON
lines, one object per row: ``text``, one key per label (1 / 0 / null), ``source``,
``language``, ``functionality``, ``target`` (the identity group a row is about, where known)
and ``row_id`` — the input ``modgate eval`` reads — and ``text-eval-only.jsonl`` beside it.
The files are build products: never commit them (the data stays in ``../shared/data``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from modgate.settings import ARTIFACTS_DIR, TrainSettings

if TYPE_CHECKING:
    from retrain.corpora.base import TextExample

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "build" / "heldout" / "text-test.jsonl"
EVAL_ONLY_NAME = "text-eval-only.jsonl"


def text_seed(artifact_dir: Path = ARTIFACTS_DIR / "text") -> int:
    """The seed the shipped text model's splits were drawn with."""
    metrics = json.loads((artifact_dir / "metrics.json").read_text(encoding="utf-8"))
    return int(metrics["train"]["config"]["seed"])


def heldout_rows(
    data_dir: Path | None = None, *, seed: int | None = None
) -> list[dict[str, object]]:
    """Every held-out test row of the text model, as plain dicts (see the module docstring)."""
    from retrain.text_data import load_text_corpora, split_text_corpora

    seed = text_seed() if seed is None else seed
    data_dir = data_dir or TrainSettings().data_dir
    splits = split_text_corpora(load_text_corpora(data_dir), seed=seed)
    targets = _identity_targets(data_dir)
    return [_row(ex, targets) for ex in splits.test]


def eval_only_rows(data_dir: Path | None = None) -> list[dict[str, object]]:
    """Every row of the measurement-only corpora, in the same shape."""
    from retrain.corpora.registry import eval_only_corpora
    from retrain.text_data import load_text_corpora

    data_dir = data_dir or TrainSettings().data_dir
    rows = load_text_corpora(data_dir, corpora=eval_only_corpora())
    return [_row(ex, {}) for ex in rows]


def _row(ex: TextExample, targets: dict[str, str]) -> dict[str, object]:
    from retrain.text_data import LABELS

    return {
        "text": ex.text,
        **{label: ex.labels.get(label) for label in LABELS},
        "source": ex.source,
        "language": ex.language,
        "functionality": ex.functionality,
        "target": _identity(targets.get(ex.row_id, "")),
        "row_id": ex.row_id,
    }


# The sources name some groups differently; one name per group, so that the bias metrics see
# one subgroup (MLMA's "gay" next to MHC's "gay people" would split it in two).
_ALIASES = {
    "gay": "gay people",
    "christian": "christians",
    "special needs": "disabled people",
    "african descent": "black people",
}


def _identity(name: str) -> str:
    name = " ".join(name.lower().replace("_", " ").split())
    return _ALIASES.get(name, name)


def _identity_targets(data_dir: Path) -> dict[str, str]:
    """row id -> the identity group a row is about: MHC's ``target_ident``, MLMA's ``group``
    (where it names a group: not ``other`` / ``individual``)."""
    from retrain.corpora.seed import MHC_LANGUAGES, MLMA_LANGUAGES
    from retrain.functional_cases import functional_cases

    out: dict[str, str] = {f"functional_en:{i}": c.target for i, c in enumerate(functional_cases())}
    for name, lang in MHC_LANGUAGES.items():
        for row in _csv(data_dir / "mhc" / f"hatecheck_cases_final_{name}.csv"):
            out[f"mhc_{lang}:{row['mhc_case_id']}"] = row.get("target_ident") or ""
    for lang in MLMA_LANGUAGES:
        for row in _csv(data_dir / "mlma" / f"{lang}_dataset.csv"):
            group = (row.get("group") or "").strip()
            if group not in {"", "other", "individual"}:
                out[f"mlma_{lang}:{row['HITId']}"] = group
    return out


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        return list(csv.DictReader(handle))


def write_heldout(out: Path = DEFAULT_OUT, data_dir: Path | None = None) -> Path:
    """Write the test split to ``out`` and the eval-only sets beside it; returns ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    for path, rows in (
        (out, heldout_rows(data_dir)),
        (out.with_name(EVAL_ONLY_NAME), eval_only_rows(data_dir)),
    ):
        with path.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    path = write_heldout(args.out, args.data_dir)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
