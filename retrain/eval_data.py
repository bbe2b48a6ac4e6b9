"""Reading labelled files for ``modgate eval`` and the promotion gate: CSV / TSV / JSONL rows
with a text column, gold labels mapped onto model categories (``LabelSpec``) and the optional
language, functionality, identity and breakdown columns. Every input error names the file,
line and column (``EvalInputError``), so a user can fix the file rather than guess.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from retrain.errors import EvalInputError

_TRUE, _FALSE, _NULL = {"1", "true", "yes"}, {"0", "false", "no"}, {"", "null", "none"}


@dataclass(frozen=True, slots=True)
class LabelSpec:
    """Gold label ``name`` (a model category) read from ``column``. With ``values``, the label
    is 1 where the cell is one of them, else 0; without, the cell holds 1/0/true/false/yes/no.
    Empty, ``null`` and ``None`` cells are unknown: the row is left out for this label."""

    name: str
    column: str
    values: frozenset[str] | None = None

    @classmethod
    def parse(cls, text: str) -> LabelSpec:
        """``NAME=COLUMN`` or ``NAME=COLUMN:V1,V2`` (``NAME`` alone reads column ``NAME``)."""
        name, eq, source = text.partition("=")
        column, sep, listed = (source if eq else name).partition(":")
        values = frozenset(v.strip() for v in listed.split(",") if v.strip())
        if not name.strip() or not column.strip() or (sep and not values):
            raise EvalInputError("--label", f"{text!r}: expected NAME=COLUMN or NAME=COLUMN:V1,V2")
        return cls(name.strip(), column.strip(), values if sep else None)

    def gold(self, cell: str) -> int | None:
        """The label of one cell; ValueError for a flag that is not 1/0/true/false/yes/no."""
        value = cell.strip()
        if value.lower() in _NULL:
            return None
        if self.values is not None:
            return int(value in self.values)
        if value.lower() not in _TRUE | _FALSE:
            raise ValueError(value)
        return int(value.lower() in _TRUE)


@dataclass(frozen=True, slots=True)
class EvalColumns:
    """Which columns of the file hold what; an empty name means "not in this file"."""

    labels: tuple[LabelSpec, ...]
    text: str = "text"
    language: str = ""
    functionality: str = ""
    identity: str = ""
    by: tuple[str, ...] = ()

    def required(self) -> list[str]:
        names = [self.text, *(s.column for s in self.labels)]
        names += [c for c in (self.language, self.functionality, self.identity) if c]
        return list(dict.fromkeys([*names, *self.by]))


@dataclass(frozen=True, slots=True)
class EvalRow:
    """One labelled row; ``gold`` follows ``EvalColumns.labels`` (None: unknown)."""

    line: int
    text: str
    gold: tuple[int | None, ...]
    language: str = ""
    functionality: str = ""
    identities: tuple[str, ...] = ()
    by: tuple[str, ...] = ()


def read_rows(
    path: Path, columns: EvalColumns, *, delimiter: str | None = None, limit: int | None = None
) -> list[EvalRow]:
    """Rows of a CSV/TSV (``.tsv`` or ``delimiter``) or JSONL (``.jsonl``/``.json``) file.

    Raises EvalInputError naming file, line and column for a missing file or column, a bad
    label value, an empty text, or a file without rows. ``limit`` keeps the first N rows.
    """
    if not path.is_file():
        raise EvalInputError(path, "no such file")
    if path.suffix.lower() in {".jsonl", ".json"}:
        records = _jsonl_records(path, columns.required())
    else:
        sep = delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
        records = _csv_records(path, columns.required(), sep)
    rows: list[EvalRow] = []
    for line, record in records:
        if limit is not None and len(rows) >= limit:
            break
        rows.append(_row(path, line, record, columns))
    if not rows:
        raise EvalInputError(path, "no rows")
    return rows


def _csv_records(path: Path, required: list[str], sep: str) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=sep)
        header = reader.fieldnames or []
        for column in (c for c in required if c not in header):
            found = ", ".join(header) or "nothing"
            raise EvalInputError(path, f"missing column (header: {found})", line=1, column=column)
        for record in reader:
            yield reader.line_num, {k: v or "" for k, v in record.items() if isinstance(k, str)}


def _jsonl_records(path: Path, required: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise EvalInputError(path, f"not valid JSON: {exc.msg}", line=line) from None
            if not isinstance(record, dict):
                raise EvalInputError(path, "expected a JSON object", line=line)
            for column in (c for c in required if c not in record):
                raise EvalInputError(path, "missing column", line=line, column=column)
            yield line, {k: _cell(v) for k, v in record.items()}


def _cell(value: object) -> str:
    """A JSON value as the text a CSV cell would hold (lists: identity groups, ';'-joined)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ";".join(_cell(v) for v in value)
    return str(value)


def _row(path: Path, line: int, record: Mapping[str, str], columns: EvalColumns) -> EvalRow:
    if not record[columns.text].strip():
        raise EvalInputError(path, "empty text", line=line, column=columns.text)
    gold: list[int | None] = []
    for spec in columns.labels:
        try:
            gold.append(spec.gold(record[spec.column]))
        except ValueError:
            bad = f"bad label value {record[spec.column]!r} (expected 1/0/true/false/yes/no)"
            raise EvalInputError(path, bad, line=line, column=spec.column) from None

    def cell(column: str) -> str:  # an optional column ("" when not in this file)
        return record[column].strip() if column else ""

    return EvalRow(
        line=line,
        text=record[columns.text],
        gold=tuple(gold),
        language=cell(columns.language).lower(),
        functionality=cell(columns.functionality),
        identities=tuple(sorted({g.strip() for g in cell(columns.identity).split(";")} - {""})),
        by=tuple(record[c].strip() for c in columns.by),
    )
