"""``modgate bench``: benchmarks of the whole service; figures land in ``bench/results/``.

``modgate bench load`` (= ``python -m bench.load``) runs the open-loop load generator against a
``modgate serve`` process it starts (or ``--target``). The ``bench`` package lives in the
source tree, not in the wheel: it is imported when the command runs, and its absence is a
clear error, not a traceback. ``modgate bench readme`` regenerates README.md's Performance and
Quality sections from the results files (``bench/readme.py``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

bench_app = typer.Typer(help="Benchmarks; figures land in bench/results/.", no_args_is_help=True)


@bench_app.command("load")
def load(
    rates: Annotated[
        str, typer.Option(help="Sweep rates in posts/s, comma-separated.")
    ] = "50,150,300,600",
    seconds: Annotated[float, typer.Option(help="Seconds per phase.")] = 10.0,
    image_share: Annotated[float, typer.Option(help="Share of posts with one JPEG.")] = 0.05,
    author_share: Annotated[float, typer.Option(help="Share of posts with an author.")] = 0.8,
    spike_base: Annotated[float, typer.Option(help="Posts/s before and after the 3x.")] = 100.0,
    spike_seconds: Annotated[
        float, typer.Option(help="Seconds of each spike segment; 0 = no spike.")
    ] = 10.0,
    search_steps: Annotated[
        int, typer.Option(help="Bisection steps for the highest sustainable rate; 0 = none.")
    ] = 3,
    label: Annotated[str, typer.Option(help="Results go to load-<label>.{json,md,png}.")] = "cpu",
    target: Annotated[
        str | None, typer.Option(help="HOST:PORT of a running gateway (default: start one).")
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="Smoke run: 3 s phases, rates 20/50, 1 search step.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the post mix.")] = 20261121,
    deadline_s: Annotated[float, typer.Option(help="Client deadline per call.")] = 2.0,
    results_dir: Annotated[
        Path | None, typer.Option(help="Where results go (default: bench/results).")
    ] = None,
) -> None:
    """Open-loop load on a gateway process: budget check, sweep, limit, 3x spike.

    Starts `modgate serve` on a free port (or loads --target), then measures text+spam posts
    at 100/s, a sweep of fixed rates, the highest sustainable rate and a 3x spike; writes
    load-<label>.{json,md,png} and prints the Markdown."""
    try:
        from bench.load import LoadConfig, parse_rates, run
    except ImportError as exc:
        typer.echo(f"modgate bench load needs the source checkout (bench/): {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        config = LoadConfig(
            rates=parse_rates(rates),
            seconds=seconds,
            image_share=image_share,
            author_share=author_share,
            spike_base=spike_base,
            spike_seconds=spike_seconds,
            search_steps=search_steps,
            label=label,
            target=target,
            quick=quick,
            seed=seed,
            deadline_s=deadline_s,
        )
        if results_dir is not None:
            config = replace(config, results_dir=results_dir)
    except ValueError as exc:
        typer.echo(f"modgate bench load: {exc}", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("retrain").setLevel(logging.WARNING)  # the data loader's row counts
    try:
        run(config)
    except RuntimeError as exc:
        typer.echo(f"modgate bench load: {exc}", err=True)
        raise typer.Exit(1) from None
    out = config.results_dir / f"load-{config.resolved().label}.md"
    typer.echo(out.read_text(encoding="utf-8"))


@bench_app.command("readme")
def readme(
    check: Annotated[
        bool, typer.Option(help="Only check; exit 1 if README.md is out of date.")
    ] = False,
) -> None:
    """Regenerate README.md's Performance and Quality sections from bench/results/."""
    from bench.readme import update

    if not update(check=check):
        if check:
            typer.echo("README.md is stale: run `modgate bench readme`", err=True)
            raise typer.Exit(1)
        typer.echo("README.md: Performance and Quality regenerated from bench/results/")
