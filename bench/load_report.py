"""Figures, tables and the plot of ``bench/load.py``: one phase's calls summarized (latency
percentiles from the scheduled send, errors by gRPC code, degraded share, verdict mix), the
machine described, and the Markdown and PNG that state what was measured on what."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from bench.image_load import DEADLINE_MS, pct
from bench.text_latency import machine
from modgate.settings import ARTIFACTS_DIR

ACTIONS = ("allow", "defer", "remove")
BUDGET_P99_MS = 20.0  # text+spam posts at 100/s on 2 CPU cores (ARCHITECTURE.md)
Phase = dict[str, Any]  # one phase's figures


class Reply(NamedTuple):
    """One call: scheduled offset from t0 (s), latency from the schedule (ms), gRPC code, and
    the verdict's fields (empty when the call failed)."""

    due_s: float
    latency_ms: float
    code: str
    action: str = ""
    degraded: bool = False
    server_ms: float = math.nan
    missing: tuple[str, ...] = ()
    models: tuple[tuple[str, str], ...] = ()
    ocr: str = ""
    image: bool = False  # the post carried an image


def summarize(replies: Sequence[Reply], offered: float, duration_s: float, wall_s: float) -> Phase:
    """The figures of one phase (or one part of it); ``wall_s`` is t0 to the last reply."""
    lat = sorted(r.latency_ms for r in replies) or [math.nan]
    ok = [r for r in replies if r.code == "OK"]
    server = sorted(r.server_ms for r in ok) or [math.nan]
    errors = Counter(r.code for r in replies if r.code != "OK")
    extra_actions = Counter(r.action for r in ok if r.action not in ACTIONS)
    return {
        "offered_per_s": offered,
        "posts": len(replies),
        "duration_s": round(duration_s, 2),
        "wall_s": round(wall_s, 2),
        "achieved_per_s": round(len(ok) / wall_s, 1) if wall_s > 0 else 0.0,
        "latency_ms": {"p50": pct(lat, 0.5), "p95": pct(lat, 0.95), "p99": pct(lat, 0.99)}
        | {"max": round(lat[-1], 1)},
        "server_ms": {"p50": pct(server, 0.5), "p99": pct(server, 0.99)},
        "over_deadline": sum(x > DEADLINE_MS for x in lat),
        "errors": dict(errors.most_common()),
        "error_rate": round(sum(errors.values()) / max(1, len(replies)), 4),
        "degraded_share": round(sum(r.degraded for r in ok) / max(1, len(ok)), 4),
        "actions": {a: sum(r.action == a for r in ok) for a in ACTIONS} | dict(extra_actions),
        "missing_models": dict(Counter(m for r in ok for m in r.missing).most_common()),
        "ocr": dict(Counter(r.ocr for r in ok if r.ocr).most_common()),
        "by_kind": {
            kind: {"posts": len(lat), "p50": pct(lat, 0.5), "p99": pct(lat, 0.99)}
            for kind, lat in (
                ("text", sorted(r.latency_ms for r in replies if not r.image)),
                ("image", sorted(r.latency_ms for r in replies if r.image)),
            )
            if lat
        },
    }


def timeline(replies: Sequence[Reply]) -> list[dict[str, Any]]:
    """Per second of the schedule: posts sent, p99 latency, degraded share, errors."""
    seconds: dict[int, list[Reply]] = {}
    for r in replies:
        seconds.setdefault(int(r.due_s), []).append(r)
    out = []
    for second, part in sorted(seconds.items()):
        ok = [r for r in part if r.code == "OK"]
        out.append(
            {
                "second": second,
                "sent": len(part),
                "p99_ms": pct(sorted(r.latency_ms for r in part), 0.99),
                "degraded_share": round(sum(r.degraded for r in ok) / max(1, len(ok)), 4),
                "errors": len(part) - len(ok),
                "error_share": round((len(part) - len(ok)) / len(part), 4),
            }
        )
    return out


def sustainable(phase: Phase) -> bool:
    """p99 inside the gateway's deadline and every post answered."""
    return bool(phase["latency_ms"]["p99"] < DEADLINE_MS and phase["error_rate"] == 0)


def within_degraded(phase: Phase) -> bool:
    """The stricter criterion: p99 inside the deadline and at most 1 % degraded verdicts."""
    return bool(phase["latency_ms"]["p99"] < DEADLINE_MS and phase["degraded_share"] <= 0.01)


def bracket(phases: Sequence[Phase]) -> tuple[float, float | None]:
    """The highest sustainable rate below the lowest failing one (0 when none passed), and
    that failing rate (None when every rate passed)."""
    failing = [p["offered_per_s"] for p in phases if not sustainable(p)]
    hi = min(failing) if failing else None
    passing = [p["offered_per_s"] for p in phases if sustainable(p)]
    return max((r for r in passing if hi is None or r < hi), default=0.0), hi


def spike_figures(
    replies: Sequence[Reply], base: float, seconds: float, wall_s: float
) -> dict[str, Any]:
    """Each segment of the spike (base, 3x, after), the whole, and the per-second timeline."""
    segments = {}
    for k, (name, rate) in enumerate((("base", base), ("3x", 3 * base), ("after", base))):
        part = [r for r in replies if k * seconds <= r.due_s < (k + 1) * seconds]
        segments[name] = summarize(part, rate, seconds, seconds)
    return {
        "base_per_s": base,
        "seconds": seconds,
        "segments": segments,
        "whole": summarize(replies, round(len(replies) / (3 * seconds), 1), 3 * seconds, wall_s),
        "timeline": timeline(replies),
    }


def figures(
    models: dict[str, str],
    budget: Phase,
    sweep: list[Phase],
    search: dict[str, Any],
    spike: dict[str, Any] | None,
) -> dict[str, Any]:
    """Every phase, with the budget verdict and the two sustainable-rate answers."""
    strict = [p["offered_per_s"] for p in sweep + search["phases"] if within_degraded(p)]
    return {
        "models": dict(sorted(models.items())),
        "budget": {
            "phase": budget,
            "target_p99_ms": BUDGET_P99_MS,
            "met": budget["latency_ms"]["p99"] <= BUDGET_P99_MS and budget["error_rate"] == 0,
        },
        "sweep": sweep,
        "search": search | {"criterion": f"p99 < {DEADLINE_MS:.0f} ms and no errors"},
        "strict": {
            "highest_per_s": max(strict, default=0.0),
            "criterion": f"p99 < {DEADLINE_MS:.0f} ms and degraded share <= 1 %",
        },
        "spike": spike,
    }


def log_summary(path: Path) -> dict[str, Any]:
    """The gateway log in counts: decision lines, and warnings, errors and rejected calls by
    message, numbers masked (the decision log is on, as in production)."""
    decisions, notes = 0, Counter[str]()
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            notes[re.sub(r"\d+", "N", line)[:200]] += 1
            continue
        if entry.get("logger") == "modgate.decisions":
            decisions += 1
        elif entry.get("level") in {"warning", "error"} or entry.get("msg", "").startswith("rej"):
            msg = (str(entry.get("msg")).splitlines() or [""])[0]
            exc = str(entry.get("exc", "")).strip().splitlines()
            note = f"{entry.get('level')} {entry.get('logger')}: {msg}"
            notes[re.sub(r"\d+", "N", note + (f" ({exc[-1]})" if exc else ""))[:200]] += 1
    return {"decision_lines": decisions, "notes": dict(notes.most_common(12))}


# -- the machine and the models ------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    ram_gb = math.nan
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        gpu = "; ".join(smi.stdout.strip().splitlines()) if smi.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        gpu = ""
    return {
        "description": machine(),
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "gpu": gpu or "none",
    }


def model_artifacts() -> dict[str, str]:
    """Versions in ``models/artifacts/*/metadata.json`` (what a locally started gateway loads)."""
    out = {}
    for meta in sorted(ARTIFACTS_DIR.glob("*/metadata.json")):
        version = json.loads(meta.read_text(encoding="utf-8")).get("version")
        if version:
            out[meta.parent.name] = str(version)
    return out


# -- Markdown ------------------------------------------------------------------------------


def _mix(counts: dict[str, int]) -> str:
    return " / ".join(str(counts.get(a, 0)) for a in ACTIONS)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "—"


def _cpu(cpu: dict[str, float | None]) -> str:
    return " / ".join("—" if cpu.get(k) is None else f"{cpu[k]:.2f}" for k in ("client", "gateway"))


def _by_kind(by_kind: dict[str, dict[str, float]]) -> str:
    return " / ".join(
        f"{by_kind[k]['p99']:.1f}" if k in by_kind else "—" for k in ("text", "image")
    )


PHASE_HEADER = (
    "| offered /s | posts | achieved OK/s | p50 | p95 | p99 | max (ms) | server p50 / p99 (ms) "
    "| p99 text-only / image posts (ms) | > 400 ms | errors | degraded | allow / defer / remove "
    "| missing models | CPU client / gateway (cores) |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|---:|",
)


def phase_row(p: Phase, first: str | None = None) -> str:
    lat, srv = p["latency_ms"], p["server_ms"]
    errors = _counts(p["errors"]) + (f" ({100 * p['error_rate']:.1f} %)" if p["errors"] else "")
    cells = [
        first or f"{p['offered_per_s']:g}",
        str(p["posts"]),
        f"{p['achieved_per_s']:g}",
        *(f"{lat[k]:.1f}" for k in ("p50", "p95", "p99", "max")),
        f"{srv['p50']:.1f} / {srv['p99']:.1f}",
        _by_kind(p.get("by_kind") or {}),
        str(p["over_deadline"]),
        errors,
        f"{100 * p['degraded_share']:.1f} %",
        _mix(p["actions"]),
        _counts(p["missing_models"]),
        _cpu(p.get("cpu_cores") or {}),
    ]
    return "| " + " | ".join(cells) + " |"


def render(result: dict[str, Any]) -> str:
    cfg, mix, pool = result["config"], result["mix"], result["mix"]["text_pool"]
    m = result["machine"]
    models = result["models"] | {
        k: v for k, v in result["model_artifacts"].items() if k not in result["models"]
    }
    gateway = (
        "`modgate serve` started by the bench as a separate process (embedded defaults: "
        "in-process ONNX text, spam and nsfw, rapidocr OCR, an empty hash bank, decision log "
        "on, no broker, no Redis)"
        if result["gateway"]["started_by_bench"]
        else f"the running gateway at `{result['gateway']['target']}`"
    )
    langs = ", ".join(f"{k} {v}" for k, v in pool["languages"].items())
    budget = result["budget"]
    b99 = budget["phase"]["latency_ms"]["p99"]
    lines = [
        f"# Gateway under open-loop load ({result['label']})",
        "",
        f"- Machine: {m['description']}, {m['ram_gb']} GiB RAM, GPU: {m['gpu']}",
        f"- Date: {result['date']}; commit `{result['commit'][:12]}`; "
        f"run took {result['runtime_s']:.0f} s",
        "- Models: " + ", ".join(f"{k} `{v}`" for k, v in sorted(models.items())),
        f"- Gateway: {gateway}; server deadline {mix['deadline_ms']:.0f} ms.",
        f"- Mix (seed {cfg['seed']}): texts drawn from {pool['texts']} {pool['source']} "
        f"({langs}; {pool['chars']['p50']:.0f} chars median, "
        f"{pool['chars']['p99']:.0f} p99, {pool['chars']['max']} max); "
        f"{100 * mix['image_share']:g} % carry one unique captioned 512 px JPEG; "
        f"{100 * mix['author_share']:g} % carry author metadata ({mix['authors']} authors, "
        "Pareto followers, prior violations mostly 0); region uniform over "
        + ", ".join(r or '""' for r in mix["regions"])
        + ".",
        "- Client: `grpc.aio` open loop in the bench process, posts sent at fixed times "
        "t0 + i/rate without waiting for replies; latency runs from each post's *scheduled* "
        "time to its reply (client queueing counts); client deadline "
        f"{mix['client_deadline_s']:g} s; a warm-up before the first phase is not recorded; "
        f"{cfg['idle_s']:g} s idle between phases. 'achieved' = OK replies / (t0 to last reply).",
        "- **The load generator shares the machine's cores with the gateway**: at high rates "
        "the client's own CPU (sending and receiving every call; posts are built before each "
        "phase) is taken from the gateway (column 'CPU client / gateway'), so the figures are "
        "a lower bound for a dedicated gateway host.",
        "",
        f"## Budget: text+spam posts at {budget['phase']['offered_per_s']:g}/s (no images)",
        "",
        f"**text+spam p99 at {budget['phase']['offered_per_s']:g}/s: {b99:.1f} ms — target "
        f"≤ {budget['target_p99_ms']:g} ms: {'met' if budget['met'] else 'missed'}**",
        "",
        *PHASE_HEADER,
        phase_row(budget["phase"]),
        "",
        f"## Sweep ({cfg['seconds']:g} s per rate, the mix above)",
        "",
        *PHASE_HEADER,
        *(phase_row(p) for p in result["sweep"]),
        "",
        *_search_lines(result),
        *_spike_lines(result),
        *_log_lines(result.get("gateway_log")),
        f"![latency vs offered rate; spike timeline](load-{result['label']}.png)",
        "",
    ]
    return "\n".join(lines)


def _search_lines(result: dict[str, Any]) -> list[str]:
    search, strict = result["search"], result["strict"]
    hi = search["lowest_failing_per_s"]
    best = search["highest_sustainable_per_s"]
    lines = [
        "## Highest sustainable rate",
        "",
        f"**{best:g} posts/s** ({search['criterion']}); "
        + (f"the lowest failing rate tried: {hi:g}/s." if hi else "no rate tried failed.")
        + (" None of the rates tried passed." if not best else ""),
        f"Stricter ({strict['criterion']}): **{strict['highest_per_s']:g} posts/s** "
        "(from the sweep and search phases).",
        "",
    ]
    if search["phases"]:
        lines += [
            "Bisection from the sweep's bracket "
            f"({result['config']['search_seconds']:g} s phases):",
            "",
            *PHASE_HEADER,
            *(phase_row(p) for p in search["phases"]),
            "",
        ]
    return lines


def _spike_lines(result: dict[str, Any]) -> list[str]:
    spike = result["spike"]
    if not spike:
        return []
    header = (
        "| segment | offered /s | posts | p50 | p99 | max (ms) | > 400 ms | errors | degraded "
        "| allow / defer / remove | missing models |"
    )
    lines = [
        f"## 3× spike: {spike['base_per_s']:g}/s, {3 * spike['base_per_s']:g}/s, "
        f"{spike['base_per_s']:g}/s, {spike['seconds']:g} s each (one open-loop schedule)",
        "",
        header,
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---|---|",
    ]
    parts = {**spike["segments"], "whole": spike["whole"]}
    for name, p in parts.items():
        lat = p["latency_ms"]
        lines.append(
            f"| {name} | {p['offered_per_s']:g} | {p['posts']} | {lat['p50']:.1f} | "
            f"{lat['p99']:.1f} | {lat['max']:.1f} | {p['over_deadline']} | "
            f"{_counts(p['errors'])} | {100 * p['degraded_share']:.1f} % | "
            f"{_mix(p['actions'])} | {_counts(p['missing_models'])} |"
        )
    cpu = _cpu(spike.get("cpu_cores") or {})
    return [
        *lines,
        "",
        f"CPU over the whole spike, client / gateway: {cpu} cores. The per-second timeline is "
        "in the JSON (`spike.timeline`) and the plot.",
        "",
    ]


def _log_lines(gateway_log: dict[str, Any] | None) -> list[str]:
    if not gateway_log:
        return []
    lines = [
        "## Gateway log",
        "",
        f"{gateway_log['decision_lines']} decision lines; warnings, errors and rejected calls "
        "by message:",
        "",
        "| count | line |",
        "|---:|---|",
    ]
    rows = [f"| {n} | {msg.replace('|', '/')} |" for msg, n in gateway_log["notes"].items()]
    return [*lines, *(rows or ["| 0 | — |"]), ""]


# -- the plot --------------------------------------------------------------------------------
