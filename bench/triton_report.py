"""Markdown for ``bench/triton.py``'s results: the gateway table (in-process vs Triton), the
gateway's tokenization cost, and client- vs server-side tokenization straight to Triton,
each with a one-line reading computed from the numbers."""

from __future__ import annotations

from typing import Any

Phase = dict[str, Any]  # one closed-loop phase's figures


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "—"


def side_by_side(names: tuple[str, str], a: list[Phase], b: list[Phase]) -> list[str]:
    """One row per concurrency: posts/s, p50, p99 of ``a`` and ``b``, and ``b``/``a``."""
    lines = [
        f"| C | {names[0]} posts/s | p50 (ms) | p99 (ms) | {names[1]} posts/s | p50 (ms) "
        f"| p99 (ms) | {names[1]}/{names[0]} posts/s | {names[1]}/{names[0]} p99 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for x, y in zip(a, b, strict=True):
        lx, ly = x["latency_ms"], y["latency_ms"]
        lines.append(
            f"| {x['concurrency']} | {x['posts_per_s']:.0f} | {lx['p50']:.1f} | {lx['p99']:.1f} "
            f"| {y['posts_per_s']:.0f} | {ly['p50']:.1f} | {ly['p99']:.1f} "
            f"| {_ratio(y['posts_per_s'], x['posts_per_s'])} | {_ratio(ly['p99'], lx['p99'])} |"
        )
    return lines


def details(modes: dict[str, list[Phase]], *, gateway: bool) -> list[str]:
    """Per concurrency and mode: tail, slow calls, errors, degraded share, Triton's view."""
    lines = [
        "| C | mode | calls | p95 / max (ms) | ≥ 400 ms | errors | degraded "
        "| Triton: mean batch, queue / compute ms per request |",
        "|---:|---|---:|---|---:|---|---:|---|",
    ]
    for row in zip(*modes.values(), strict=True):
        for mode, p in zip(modes, row, strict=True):
            errors = ", ".join(f"{k} {v}" for k, v in p["errors"].items()) or "0"
            degraded = f"{p['degraded_share']:.1%}" if gateway else "—"
            server = "; ".join(
                f"{m} ×{t['mean_batch']:g}, {t['queue_ms_per_request']:.2f} / "
                f"{t['compute_ms_per_request']:.2f}"
                for m, t in p["triton"].items()
            )
            lines.append(
                f"| {p['concurrency']} | {mode} | {p['calls']} | {p['latency_ms']['p95']:.1f} / "
                f"{p['latency_ms']['max']:.1f} | {p['calls_over_400ms']} | {errors} "
                f"| {degraded} | {server or '—'} |"
            )
    return lines


def _reading(names: tuple[str, str], a: list[Phase], b: list[Phase]) -> str:
    def at(i: int) -> str:
        return (
            f"C={a[i]['concurrency']}: {_ratio(b[i]['posts_per_s'], a[i]['posts_per_s'])} "
            f"(p99 {_ratio(b[i]['latency_ms']['p99'], a[i]['latency_ms']['p99'])})"
        )

    slow = [sum(p["calls_over_400ms"] for p in x) for x in (a, b)]
    errors = [sum(sum(p["errors"].values()) for p in x) for x in (a, b)]
    batches = ", ".join(
        f"{m} ×{t['mean_batch']:g}" for x in (a, b) for m, t in x[-1]["triton"].items()
    )
    return (
        f"{names[1]}/{names[0]} throughput at {at(-1)}, at {at(0)}; calls ≥ 400 ms "
        f"{slow[0]} / {slow[1]}, errors {errors[0]} / {errors[1]} ({names[0]} / {names[1]}); "
        f"mean batch Triton formed at C={a[-1]['concurrency']}: {batches}."
    )


def render_gateway(g: dict[str, list[Phase]]) -> list[str]:
    names = ("in-process", "Triton")
    return [
        "## 1. Gateway: in-process ONNX Runtime vs Triton (text posts, closed loop)",
        "",
        *side_by_side(names, g["in_process"], g["triton"]),
        "",
        _reading(names, g["in_process"], g["triton"]),
        "",
        *details({"in-process": g["in_process"], "Triton": g["triton"]}, gateway=True),
    ]


def render_tokenize(t: dict[str, Any], gateway_p50_ms: float) -> list[str]:
    lines = [
        "## 2a. Tokenization in the gateway: `TextModel.feeds` (normalize + tokenize + pad)",
        "",
        "| batch | median (µs/post) | p99 (µs/post) | mean (µs/post) | rounds |",
        "|---:|---:|---:|---:|---:|",
    ]
    for label, row in t.items():
        lines.append(
            f"| {label.split()[-1]} | {row['median_us_per_post']:.1f} | "
            f"{row['p99_us_per_post']:.1f} | {row['mean_us_per_post']:.1f} | {row['rounds']} |"
        )
    one = t["batch 1"]
    lines += [
        "",
        f"Tokenizing one post costs {one['median_us_per_post']:.0f} µs median, "
        f"{one['mean_us_per_post']:.0f} µs mean, {one['p99_us_per_post']:.0f} µs p99 (the long "
        f"posts) in the gateway; the mean is {one['mean_us_per_post'] / 10 / gateway_p50_ms:.1f} "
        "% of the in-process gateway's p50 at C=1.",
    ]
    return lines


def render_direct(d: dict[str, Any]) -> list[str]:
    names = ("client-tok", "server-tok")
    client, server, parity = (
        d["load"]["client_tokenizes"],
        d["load"]["server_tokenizes"],
        d["parity"],
    )
    return [
        "## 2b. Straight to Triton: client tokenizes (`text`) vs server tokenizes (`text_raw`)",
        "",
        *side_by_side(names, client, server),
        "",
        _reading(names, client, server),
        f"Parity over {parity['texts']} texts one at a time: max |Δ| "
        f"{parity['max_abs_diff_raw_vs_client_tokenized']:.1e} vs client-side tokenization "
        f"(≤ {parity['tolerance']:g} asserted), "
        f"{parity['max_abs_diff_raw_vs_in_process']:.1e} vs in-process. Batching moves scores: "
        "8 mixed-length texts in one request vs one by one differ by up to "
        f"{parity['max_abs_diff_raw_batch8_vs_one_by_one']:.1e} (`text_raw`) and "
        f"{parity['max_abs_diff_client_tokenized_batch8_vs_one_by_one']:.1e} (`text`).",
        "",
        *details({"client-tok": client, "server-tok": server}, gateway=False),
    ]


def render(r: dict[str, Any]) -> str:
    sha = r["commit"][:12] + ("+dirty" if r["commit"].endswith("+dirty") else "")
    s, v, models = r["settings"], r["versions"], r["models"]["triton"]
    lines = [
        "# Text posts: in-process ONNX Runtime vs Triton, and where tokenization runs",
        "",
        f"- Machine: {r['machine']}; no GPU",
        f"- Date: {r['date']}; commit `{sha}`; ONNX Runtime {v['onnxruntime']}, Triton server "
        f"{v['triton_server']}, tritonclient {v['tritonclient']}"
        + ("; **quick mode** (short phases)" if r["quick"] else ""),
        f"- Models: text `{models.get('text', '?')}`, spam `{models.get('spam', '?')}`",
        "- The gateway(s), the Triton server and the load client (one `grpc.aio` loop in the "
        "gateway's process) share the same 2 cores. The Triton side is pytriton's "
        "`tritonserver` running the **python backend** (onnxruntime inside the python stub), "
        "not the native onnxruntime backend production uses (no container, no GPU here).",
        f"- In-process: {s['in_process']}. Triton: {s['triton']}. Without ragged batching, "
        "Triton's dynamic batcher merges only requests whose tensors have the same shape: "
        "client-tokenized posts come padded to one of several length buckets, raw strings "
        "to `text_raw` are all `[1, 1]`.",
        f"- Closed loop: C callers back to back, {s['warmup_s']:g} s warm-up then "
        f"{s['seconds_per_phase']:g} s per phase, {s['client_timeout_s']:g} s client timeout; "
        f"{s['texts']} held-out texts (median {s['median_chars']:.0f} chars, {s['long_texts']} "
        "long posts of 12 joined); latency is client-measured over all calls.",
        "",
        *render_gateway(r["gateway"]),
        "",
        *render_tokenize(r["tokenize"], r["gateway"]["in_process"][0]["latency_ms"]["p50"]),
        "",
        *render_direct(r["direct"]),
    ]
    return "\n".join(lines) + "\n"
