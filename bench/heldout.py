"""The shipped text model's held-out test split, for benchmarks and quality reports.

The split is rebuilt from ``../shared/data`` (``MODGATE_DATA_DIR``) with the seed recorded in
``models/artifacts/text/metrics.json``, exactly as ``modgate train text`` / ``modgate export
text`` built it: the corpora's group-aware test split plus the held-out English functional
cases. Training and threshold calibration never saw these rows.

``python -m bench.heldout [--out build/heldout/text-test.jsonl]`` writes it as JSON lines, one
object per row: ``text``, ``toxicity``, ``hate`` (1 / 0 / null), ``source``, ``language``,
``functionality``, ``target`` (the identity group a row is about, where known) and
``row_id`` — the input ``modgate eval`` reads. The file is a build product: never commit it
(the data stays in ``../shared/data``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from modgate.settings import ARTIFACTS_DIR, TrainSettings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "build" / "heldout" / "text-test.jsonl"


def text_seed(artifact_dir: Path = ARTIFACTS_DIR / "text") -> int:
    """The seed the shipped text model's splits were drawn with."""
    metrics = json.loads((artifact_dir / "metrics.json").read_text(encoding="utf-8"))
    return int(metrics["train"]["config"]["seed"])


def heldout_rows(
    data_dir: Path | None = None, *, seed: int | None = None
) -> list[dict[str, object]]:
    """Every held-out test row of the text model, as plain dicts (see the module docstring)."""
    from retrain.functional_cases import functional_cases
    from retrain.text import functional_as_examples
    from retrain.text_data import load_text_corpora, split_text_corpora

    seed = text_seed() if seed is None else seed
    data_dir = data_dir or TrainSettings().data_dir
    splits = split_text_corpora(load_text_corpora(data_dir), seed=seed)
    functional = [c for c in functional_cases(seed=seed) if c.split == "test"]
    targets = _identity_targets(data_dir)
    targets.update({f"functional_en:{i}": c.target for i, c in enumerate(functional)})
    return [
        {
            "text": ex.text,
            "toxicity": ex.labels.get("toxicity"),
            "hate": ex.labels.get("hate"),
            "source": ex.source,
            "language": ex.language,
            "functionality": ex.functionality,
            "target": _identity(targets.get(ex.row_id, "")),
            "row_id": ex.row_id,
        }
        for ex in splits.test + functional_as_examples(functional)
    ]


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
    from retrain.text_data import MHC_LANGUAGES, MLMA_LANGUAGES

    out: dict[str, str] = {}
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
    rows = heldout_rows(data_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
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
