"""The load generator's plot (``load-<label>.png``): latency percentiles and achieved
throughput against the offered rate (sweep and search phases), and the 3× spike's timeline
per second (offered rate, p99, degraded and error shares). Reads only the result dict, so a
saved JSON can be re-plotted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.image_load import DEADLINE_MS


def plot(result: dict[str, Any], path: Path) -> None:
    """Left: p50/p95/p99 and achieved throughput vs offered rate; right: the spike per second."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 5.5))
    phases = sorted(result["sweep"] + result["search"]["phases"], key=lambda p: p["offered_per_s"])
    rates = [p["offered_per_s"] for p in phases]
    for q, style in (("p50", "o-"), ("p95", "s-"), ("p99", "^-")):
        left.plot(rates, [max(0.1, p["latency_ms"][q]) for p in phases], style, label=q)
    left.axhline(DEADLINE_MS, color="red", linestyle="--", label=f"{DEADLINE_MS:.0f} ms deadline")
    left.set(yscale="log", xlabel="offered posts/s", ylabel="latency from schedule (ms)")
    _ms_ticks(left)
    left.set_title("Latency vs offered rate (sweep + search)")
    twin = left.twinx()
    twin.plot(rates, [p["achieved_per_s"] for p in phases], "kx:", label="achieved OK/s")
    twin.plot(rates, rates, color="grey", linewidth=0.5, label="offered")
    twin.set_ylabel("posts/s")
    handles = left.get_legend_handles_labels()
    extra = twin.get_legend_handles_labels()
    left.legend(handles[0] + extra[0], handles[1] + extra[1], loc="center right", fontsize=8)
    spike = result["spike"]
    if spike:
        _plot_spike(right, spike)
    else:
        right.text(0.5, 0.5, "no spike phase", ha="center", va="center")
        right.set_axis_off()
    fig.suptitle(f"modgate gateway, open loop ({result['label']}, {result['date']})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _ms_ticks(ax: Any) -> None:
    """Plain-number ticks (1, 2, 5, 10, ... ms) on a log latency axis."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    lo, hi = ax.get_ylim()
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 400, 1000, 2000, 5000) if lo <= t <= hi]
    ax.set_yticks(ticks)
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())


def _plot_spike(ax: Any, spike: dict[str, Any]) -> None:
    tl = spike["timeline"]
    t = [row["second"] for row in tl] + [tl[-1]["second"] + 1]

    def steps(values: list[float]) -> list[float]:
        return [*values, values[-1]]

    ax.step(t, steps([row["sent"] for row in tl]), where="post", color="grey", label="offered /s")
    ax.set(xlabel="second of the spike schedule", ylabel="posts/s", ylim=(0, None))
    ax.set_title(f"3× spike from {spike['base_per_s']:g}/s (per second)")
    share = ax.twinx()
    share.spines.right.set_position(("axes", 1.2))
    for key, color, label in (("degraded_share", "orange", "degraded % (of OK)"),
                              ("error_share", "red", "errors %")):  # fmt: skip
        share.fill_between(t, steps([100 * r[key] for r in tl]), step="post", color=color,
                           alpha=0.25, label=label)  # fmt: skip
    share.set(ylabel="share of posts (%)", ylim=(0, 100))
    lat = ax.twinx()
    lat.plot([x + 0.5 for x in t[:-1]], [max(0.1, r["p99_ms"]) for r in tl], "b^-", label="p99")
    lat.axhline(DEADLINE_MS, color="red", linestyle="--", linewidth=0.8)
    lat.set(yscale="log", ylabel="p99 latency from schedule (ms)")
    _ms_ticks(lat)
    handles: list[Any] = []
    labels: list[str] = []
    for a in (ax, lat, share):
        h, lab = a.get_legend_handles_labels()
        handles, labels = handles + h, labels + lab
    ax.legend(handles, labels, loc="upper left", fontsize=8)
