"""``modgate eval``: the quality report of the text model and policy on a labelled file.

A thin wrapper over ``retrain.evaluate.evaluate_file`` (scoring through the serving path,
the real policy per row) and ``retrain.eval_report``: it writes ``<out>/<name>.json``,
``.md`` and ``.png`` and prints the Markdown. Rooms are imported inside the command, so
``modgate --help`` stays fast; input errors exit with code 2 and a message on stderr.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modgate.cli.failure import fail
from modgate.errors import ModgateError

if TYPE_CHECKING:
    from decision import Policy


class DecisionPolicy:
    """``retrain.evaluate.PolicyView`` over the policy engine: ``retrain`` may not import
    ``decision`` (rooms rule), so the CLI, which may import any room, adapts it here."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    @classmethod
    def load(cls, path: Path) -> DecisionPolicy:
        from decision import load_policy

        return cls(load_policy(path))

    @property
    def version(self) -> str:
        return self._policy.version

    @property
    def categories(self) -> Collection[str]:
        return tuple(self._policy.categories)

    def action(self, scores: Mapping[str, float], *, region: str, language: str) -> str:
        from decision import decide

        features = {"region": region, "language": language}
        return decide(dict(scores), features, self._policy).action.value

    def lines(self, category: str, *, region: str, language: str) -> tuple[float, float | None]:
        line = self._policy.effective(category, region=region, language=language)
        return line.defer_above, line.remove_above


def eval_command(
    file: Annotated[Path, typer.Argument(help="Labelled CSV / TSV / JSONL file.")],
    label: Annotated[
        list[str],
        typer.Option(
            help="NAME=COLUMN (1/0/true/false) or NAME=COLUMN:V1,V2 (1 where the cell is one "
            "of the values); NAME is a model category. Repeatable."
        ),
    ],
    text_column: Annotated[str, typer.Option(help="Column with the post text.")] = "text",
    language_column: Annotated[
        str, typer.Option(help="Column with ISO 639-1 codes (default: detect, as serving).")
    ] = "",
    functionality_column: Annotated[
        str, typer.Option(help="HateCheck-style functionality column.")
    ] = "",
    functionality_label: Annotated[
        str | None, typer.Option(help="Label the functional tests check (default: hate).")
    ] = None,
    identity_column: Annotated[
        str, typer.Option(help="Identity group(s) a row is about, ';'-separated (bias metrics).")
    ] = "",
    by: Annotated[
        list[str] | None, typer.Option(help="Extra column to break results down by (repeatable).")
    ] = None,
    min_subgroup_size: Annotated[
        int, typer.Option(min=1, help="Rows an identity group needs for the bias metrics.")
    ] = 20,
    model: Annotated[Path | None, typer.Option(help="Text model artifact directory.")] = None,
    policy: Annotated[Path | None, typer.Option(help="Policy YAML.")] = None,
    region: Annotated[str, typer.Option(help="Request region every row is decided under.")] = "",
    batch_size: Annotated[
        int,
        typer.Option(
            min=1, help="Rows per model run (speed only: the int8 model is batch-invariant)."
        ),
    ] = 32,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N rows.")] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (default: tab for .tsv, else comma).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Directory for the report files.")] = Path("build/eval"),
    name: Annotated[str | None, typer.Option(help="File stem (default: the input's).")] = None,
) -> None:
    """Score a labelled file through the serving path and policy; write and print a report."""
    from modgate.settings import DEFAULT_POLICY
    from retrain.eval_data import EvalColumns, LabelSpec
    from retrain.eval_report import confusion_plot, render_markdown
    from retrain.evaluate import DEFAULT_MODEL_DIR, evaluate_file

    try:
        columns = EvalColumns(
            labels=tuple(LabelSpec.parse(spec) for spec in label),
            text=text_column,
            language=language_column,
            functionality=functionality_column,
            identity=identity_column,
            by=tuple(by or ()),
        )
        result = evaluate_file(
            file,
            columns,
            policy=DecisionPolicy.load(policy or DEFAULT_POLICY),
            model_dir=model or DEFAULT_MODEL_DIR,
            delimiter=delimiter,
            limit=limit,
            region=region,
            batch_size=batch_size,
            functionality_label=functionality_label,
            min_subgroup_size=min_subgroup_size,
        )
    except ModgateError as exc:
        fail(f"modgate eval: {exc}")
    stem = name or file.stem
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path, png_path = (out / f"{stem}{ext}" for ext in (".json", ".md", ".png"))
    json_path.write_text(
        json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    confusion_plot(result, png_path)
    markdown = render_markdown(result, plot=png_path.name)
    md_path.write_text(markdown, encoding="utf-8")
    typer.echo(markdown)
    typer.echo(f"wrote {json_path}, {md_path}, {png_path}", err=True)
