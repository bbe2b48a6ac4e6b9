"""The image path on CPU: decoding, the image models, OCR, PDQ, and posts with an image under
load with OCR on and off, in one run.

``python -m bench.images [--label cpu] [--quick]``

On real photos from ``skimage.data`` (astronaut 512², coffee 600x400, chelsea 451x300, rocket
640x427, and the astronaut upscaled to a 2048x1536 JPEG), one call at a time (median, p99):

* **decode**: ``models.image_decode.decode_image`` per wire format (JPEG q85, PNG, WebP q80,
  GIF) of the 512² photo, a JPEG of each other photo, and the 2048x1536 JPEG (libjpeg's
  DCT-scaled draft path to the 1024 px working copy); decode + Open NSFW preprocessing;
* **image models**: Open NSFW (the shipped artifact) and a ViT-tiny exported with
  ``export.image_onnx`` (random weights: its speed is real, its scores are not), preprocess +
  ONNX Runtime at batch 1 and 8 with 1 and 2 intra-op threads; CUDA rows with CPU parity
  when ONNX Runtime has the CUDA provider;
* **OCR** (rapidocr, fast settings: no angle classifier, detector at most 960 px): a
  captioned 512² photo, a captioned 1024x768 photo, a photo without a caption, and OCR + text-model
  scoring (``OcrTextClassifier.read_images``);
* **PDQ**: hashing a 1024 px working copy; matching against a bank of 100,000 random hashes.

Then **posts with an image under load**: a real gateway on 127.0.0.1 (default classifiers,
an empty hash bank, image cache off, every image unique) once with rapidocr and once with OCR
off, and text-only posts for reference. An open-loop client in this process sends at fixed
rates (gRPC futures, 2 s timeout); latency runs from each post's scheduled send time to its
verdict. Writes ``bench/results/images-<label>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.image_load import CAPTIONS, DEADLINE_MS, PHOTOS, TOXIC, bench_load
from bench.report import write_results
from bench.slowpath import commit
from bench.text_latency import RESULTS, machine, timings
from models.image import ImageClassifier, pixels
from models.image_decode import decode_image
from modgate.settings import ARTIFACTS_DIR, ImageSettings, OnnxSettings
from modgate.types import DecodedImage
from tests.images import encode, photo, with_caption

LIMITS = ImageSettings()
FORMATS = (("JPEG q85", {"quality": 85}), ("PNG", {}), ("WebP q80", {"quality": 80}), ("GIF", {}))
Loader = Callable[[OnnxSettings], ImageClassifier]


def decoded(img: Image.Image, fmt: str = "JPEG", **opts: object) -> DecodedImage:
    return decode_image(encode(img, fmt, **opts), limits=LIMITS)


def per_image(t: dict[str, float], batch: int) -> dict[str, Any]:
    return {**t, "batch": batch, "per_image_ms": round(t["median_ms"] / batch, 3)}


def bench_decode(model: Any, rounds: int) -> dict[str, Any]:
    astronaut = photo("astronaut")
    files = {
        f"{fmt}, astronaut 512²": encode(astronaut, fmt.split()[0].upper(), **opts)
        for fmt, opts in FORMATS
    }
    for name in PHOTOS[1:]:
        img = photo(name)
        files[f"JPEG q85, {name} {img.width}x{img.height}"] = encode(img, quality=85)
    big = astronaut.resize((2048, 1536), Image.Resampling.BICUBIC)
    files["JPEG q85, 2048x1536 → 1024x768 working copy (draft)"] = encode(big, quality=85)
    out = {
        f"decode {label}": timings(lambda d=data: decode_image(d, limits=LIMITS), rounds=rounds)
        | {"bytes": len(data)}
        for label, data in files.items()
    }
    jpeg = files["JPEG q85, astronaut 512²"]
    one = decode_image(jpeg, limits=LIMITS)
    out["NSFW preprocess only (512² decoded)"] = timings(lambda: model.feeds([one]), rounds=rounds)
    out["decode JPEG 512² + Open NSFW preprocess"] = timings(
        lambda: model.feeds([decode_image(jpeg, limits=LIMITS)]), rounds=rounds
    )
    return out


def bench_model(label: str, load: Loader, images: list[DecodedImage], r: int) -> tuple[dict, str]:
    rows: dict[str, Any] = {}
    for threads in (1, 2):
        clf = load(OnnxSettings(intra_op_threads=threads, inference_workers=1))
        for batch, rounds in ((1, r), (8, max(5, r // 4))):
            fn = lambda b=images[:batch], m=clf.model: m.score(b)  # noqa: E731
            rows[f"{label} batch {batch}, {threads} thread(s)"] = per_image(
                timings(fn, rounds=rounds, warmup=3), batch
            )
        clf.model.session.close()
    return rows, clf.version


def bench_cuda(loaders: dict[str, Loader], images: list[DecodedImage]) -> dict[str, Any]:
    """GPU rows and parity with CPU scores; only when ONNX Runtime has the CUDA provider."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return {"available": False, "providers": ort.get_available_providers()}
    out: dict[str, Any] = {"available": True}
    for label, load in loaders.items():
        cpu = load(OnnxSettings(intra_op_threads=2)).model
        gpu = load(OnnxSettings(providers=("cuda",), intra_op_threads=1)).model
        ref, got = cpu.score(images), gpu.score(images)
        diff = max(abs(a[k] - b[k]) for a, b in zip(ref, got, strict=True) for k in a)
        for batch in (1, 8):
            t = timings(lambda b=images[:batch], g=gpu: g.score(b), rounds=50, warmup=5)
            out[f"{label} batch {batch}, CUDA"] = per_image(t, batch)
        out[f"{label} parity max abs diff vs CPU"] = diff
        out[f"{label} providers"] = ", ".join(gpu.session.providers)
        cpu.session.close()
        gpu.session.close()
    return out


def vit_artifact(tmp: Path) -> Path:
    """A ViT-tiny (random init, seed 0) exported to an image artifact in ``tmp``."""
    import torch
    import transformers

    from export.image_onnx import VIT_DEFAULT_PREPROCESSOR, export_image_checkpoint

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    torch.manual_seed(0)
    tiny = {"hidden_size": 192, "num_hidden_layers": 12, "num_attention_heads": 3}
    config = transformers.ViTConfig(
        image_size=224, patch_size=16, intermediate_size=768, num_labels=2, **tiny
    )
    checkpoint = tmp / "checkpoint"
    transformers.ViTForImageClassification(config).eval().save_pretrained(checkpoint)
    (checkpoint / "preprocessor_config.json").write_text(json.dumps(VIT_DEFAULT_PREPROCESSOR))
    export_image_checkpoint(checkpoint, tmp / "vit", categories={"vit_test": "LABEL_1"})
    return tmp / "vit"


def bench_ocr(rounds: int) -> tuple[dict[str, Any], dict[str, str]]:
    from models.ocr import OcrTextClassifier, RapidOcrEngine
    from models.text import TextClassifier
    from modgate.settings import OcrSettings

    engine = RapidOcrEngine(max_side=OcrSettings().max_side)
    path = ARTIFACTS_DIR / "text" / "model.onnx"
    text = TextClassifier.from_artifact(path, name="text", onnx=OnnxSettings()).model
    ocr = OcrTextClassifier(engine, text, OcrSettings(), cache_entries=0)
    small = decoded(with_caption(photo("astronaut"), TOXIC[0], size=32), quality=85)
    large = photo("astronaut").resize((1024, 768), Image.Resampling.BICUBIC)
    large = decoded(with_caption(large, TOXIC[0], size=64), quality=85)
    images = {"captioned 512² meme": small, "captioned 1024x768 meme": large}
    images["coffee 600x400 (no caption)"] = decoded(photo("coffee"), quality=85)
    rows = {
        f"OCR read, {k}": timings(lambda i=img: engine.read(pixels(i)), rounds=rounds, warmup=3)
        for k, img in images.items()
    }
    rows["OCR + text model, captioned 512² meme"] = timings(
        lambda: ocr.read_images([small]), rounds=rounds, warmup=3
    )
    found = {
        f"read {k}": " | ".join(t for t, _ in engine.read(pixels(i))) for k, i in images.items()
    }
    text.session.close()
    return rows, {"engine": engine.version, "text_model": text.artifact.version, **found}


def bench_pdq(tmp: Path, bank_size: int, rounds: int) -> dict[str, Any]:
    from models.hashbank import BankEntry, HashBank, pdq_hash

    astronaut = photo("astronaut").resize((2048, 1536), Image.Resampling.BICUBIC)
    work = pixels(decoded(astronaut, quality=85))
    rows = {"PDQ hash, 1024x768 working copy": timings(lambda: pdq_hash(work), rounds=rounds)}
    raw = np.random.default_rng(0).integers(0, 256, size=(bank_size, 32), dtype=np.uint8)
    bank = HashBank(tmp / "bank.jsonl")
    bank.add_all(BankEntry(id=f"r{i}", hash=row.tobytes()) for i, row in enumerate(raw))
    h, _ = pdq_hash(work)
    rows[f"bank match, {bank_size:,} random entries"] = timings(
        lambda: bank.match(h), rounds=rounds
    )
    return rows


# -- results -----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    import onnxruntime as ort

    rounds = 30 if args.quick else 100

    def nsfw(onnx: OnnxSettings) -> ImageClassifier:
        return ImageClassifier.from_artifact(ARTIFACTS_DIR / "nsfw", name="nsfw", onnx=onnx)

    with tempfile.TemporaryDirectory(prefix="modgate-bench-images-") as tmp_dir:
        tmp = Path(tmp_dir)
        vit_dir = vit_artifact(tmp)

        def vit(onnx: OnnxSettings) -> ImageClassifier:
            return ImageClassifier.from_artifact(vit_dir, name="vit_tiny", onnx=onnx)

        batch8 = [decoded(photo(n), quality=85) for n in PHOTOS] * 2
        probe = nsfw(OnnxSettings())
        latency = {"decode": bench_decode(probe.model, rounds * 2)}
        probe.model.session.close()
        latency["models"], nsfw_version = bench_model("Open NSFW", nsfw, batch8, rounds)
        vit_rows, vit_version = bench_model("ViT-tiny (random init)", vit, batch8, rounds)
        latency["models"] |= vit_rows
        latency["ocr"], ocr_info = bench_ocr(5 if args.quick else 15)
        latency["pdq"] = bench_pdq(tmp, 10_000 if args.quick else 100_000, rounds)
        cuda = bench_cuda({"Open NSFW": nsfw, "ViT-tiny": vit}, batch8)
        rates = [2.0, 10.0] if args.quick else args.rates
        load, gateway_models = bench_load(tmp, rates, 4.0 if args.quick else args.seconds)
    return {
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "quick": args.quick,
        "onnxruntime": ort.__version__,
        "models": {"nsfw": nsfw_version, "vit_tiny": vit_version, "ocr": ocr_info},
        "gateway_models": gateway_models,
        "latency": latency,
        "cuda": cuda,
        "load": load,
        "load_settings": {"deadline_ms": DEADLINE_MS, "client_timeout_s": 2.0, "cache": "off"},
    }


def _row(*cells: object) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


def _mix(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])) or "—"


def reading(r: dict[str, Any]) -> list[str]:
    """The paragraph under the tables, computed from the figures."""
    d, m, o, lo = r["latency"]["decode"], r["latency"]["models"], r["latency"]["ocr"], r["load"]
    jpeg, big = d["decode JPEG q85, astronaut 512²"], d[next(k for k in d if "2048" in k)]
    slowest = max((k for k in d if "astronaut 512²" in k), key=lambda k: d[k]["median_ms"])
    n1, n8 = m["Open NSFW batch 1, 2 thread(s)"], m["Open NSFW batch 8, 2 thread(s)"]
    v1 = m["ViT-tiny (random init) batch 1, 2 thread(s)"]
    ocr = o["OCR read, captioned 512² meme"]["median_ms"]
    on, off = lo["ocr on"][-1], lo["ocr off"][-1]
    read = [p["offered_per_s"] for p in lo["ocr on"] if p["ocr"].get("done", 0) >= 0.9 * p["posts"]]
    skipped = on["ocr"].get("skipped_budget", 0) / max(1, on["posts"])
    errors = sum(sum(p["errors"].values()) for ps in lo.values() for p in ps)
    late = sum(p["over_deadline"] for p in lo["ocr on"])
    return [
        f"- Decoding is cheap next to the models: a 512² JPEG takes {jpeg['median_ms']:.1f} ms, "
        f"the slowest format ({slowest.split()[1].strip(',')}) {d[slowest]['median_ms']:.1f} ms; "
        f"the 2048x1536 JPEG (12× the pixels) {big['median_ms']:.1f} ms, thanks to the draft "
        "path.",
        f"- Open NSFW: {n1['median_ms']:.1f} ms for one image (2 threads), "
        f"{n8['per_image_ms']:.1f} ms per image at batch 8; the (random) ViT-tiny "
        f"{v1['median_ms']:.1f} ms for one image.",
        f"- OCR dominates: reading a captioned 512² meme takes {ocr:.0f} ms, "
        f"{ocr / n1['median_ms']:.0f}× Open NSFW, so one OCR worker reads at most about "
        f"{1000 / ocr:.1f} images/s.",
        f"- Under load with OCR on, at least 90 % of the images were read at "
        f"{' and '.join(f'{x:g}' for x in read) or 'no rate'} posts/s; at "
        f"{on['offered_per_s']:g}/s {skipped:.0%} were `skipped_budget` (the policy defers "
        f"those) and the client p99 was {on['latency_ms']['p99']:.0f} ms "
        f"(max {on['latency_ms']['max']:.0f}); {late} post(s) with OCR on took longer than the "
        f"{DEADLINE_MS:.0f} ms deadline. With OCR off the p99 at {off['offered_per_s']:g}/s was "
        f"{off['latency_ms']['p99']:.0f} ms. {errors} request(s) failed in all load phases.",
        f"- What OCR buys: at {lo['ocr on'][0]['offered_per_s']:g} posts/s the memes got "
        f"{_mix(lo['ocr on'][0]['actions'])} with OCR and {_mix(lo['ocr off'][0]['actions'])} "
        f"without (the same captions as post text: {_mix(lo['text only'][0]['actions'])}).",
    ]


def render(r: dict[str, Any]) -> str:
    sha = r["commit"][:12] + ("+dirty" if r["commit"].endswith("+dirty") else "")
    models = r["models"]
    lines = [
        "# Image path: decoding, image models, OCR, PDQ, and posts with an image under load",
        "",
        f"- Machine: {r['machine']}; no GPU",
        f"- Date: {r['date']}; commit `{sha}`; ONNX Runtime {r['onnxruntime']}"
        + ("; **quick mode** (few rounds)" if r["quick"] else ""),
        f"- Models: Open NSFW `{models['nsfw']}`; ViT-tiny `{models['vit_tiny']}` (**random "
        "init**, exported by `export.image_onnx`, for speed only: its scores mean nothing); "
        f"OCR `{models['ocr']['engine']}` + text `{models['ocr']['text_model']}`",
        "- One call at a time on the calling thread; model rows include preprocessing. "
        "With 15 rounds (OCR) the p99 is the maximum.",
        "",
    ]
    titles = {"decode": "Decoding (working copy ≤ 1024 px)", "models": "Image models"}
    titles |= {"ocr": "OCR (rapidocr, fast settings)", "pdq": "PDQ hash and bank match"}
    for group, rows in r["latency"].items():
        lines += [_row(titles[group], "median (ms)", "p99 (ms)", "per image (ms)", "rounds")]
        lines.append("|---|---:|---:|---:|---:|")
        for label, t in rows.items():
            each = f"{t['per_image_ms']:.2f}" if "per_image_ms" in t else ""
            ms = (f"{t['median_ms']:.2f}", f"{t['p99_ms']:.2f}")
            lines.append(_row(label, *ms, each, t["rounds"]))
        lines.append("")
    cuda = r["cuda"]
    if cuda.get("available"):
        lines += [_row("CUDA", "median (ms) / value"), "|---|---|"]
        lines += [_row(k, v["median_ms"] if isinstance(v, dict) else v) for k, v in cuda.items()]
    else:
        lines.append(f"No CUDA provider in this ONNX Runtime ({', '.join(cuda['providers'])}).")
    lines += [
        "",
        "## Posts with an image under load (open loop, cache off, every image unique)",
        "",
        "A gateway on 127.0.0.1 with the default classifiers (text, spam, Open NSFW, an empty "
        "hash bank) and OCR rapidocr (1 worker) or off. Each post carries one ~512 px JPEG "
        f"meme; 3 of the {len(CAPTIONS)} captions are toxic. The client (same process, 2 "
        "cores shared) sends at a fixed rate with a 2 s timeout; latency runs from the "
        "scheduled send to the verdict; *server* is the verdict's `server_latency_ms`.",
        "",
        "| posts/s | mode | achieved/s | p50 / p95 / p99 / max (ms) | server p50 / p99 "
        f"| > {DEADLINE_MS:.0f} ms | errors | degraded | verdicts | ocr |",
        "|---:|---|---:|---|---|---:|---:|---:|---|---|",
    ]
    for i, rate in enumerate(p["offered_per_s"] for p in r["load"]["ocr on"]):
        for mode, phases in r["load"].items():
            p, lat = phases[i], phases[i]["latency_ms"]
            client = " / ".join(f"{lat[k]:.0f}" for k in ("p50", "p95", "p99", "max"))
            server = f"{p['server_ms']['p50']:.0f} / {p['server_ms']['p99']:.0f}"
            errors = _mix(p["errors"]) if p["errors"] else 0
            lines.append(
                f"| {rate:g} | {mode} | {p['achieved_per_s']:.1f} | {client} | {server} "
                f"| {p['over_deadline']} | {errors} | {p['degraded_share']:.0%} "
                f"| {_mix(p['actions'])} | {_mix(p['ocr'])} |"
            )
    lines += ["", "## Reading the numbers", "", *reading(r)]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--label", default="cpu")
    parser.add_argument("--quick", action="store_true", help="few rounds, short load phases")
    parser.add_argument("--rates", type=float, nargs="+", default=[2.0, 5.0, 10.0, 20.0])
    parser.add_argument("--seconds", type=float, default=15.0, help="per load phase")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    t0 = time.perf_counter()
    result = run(args)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    md = render(result)
    write_results(RESULTS, f"images-{args.label}", result, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
