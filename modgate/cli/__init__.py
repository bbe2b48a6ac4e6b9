"""The ``modgate`` command. Each subcommand is a thin wrapper over a library function that
the tests call too; rooms are imported lazily so ``modgate --help`` stays fast."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from modgate.cli.bench import bench_app
from modgate.cli.evaluate import eval_command
from modgate.cli.failure import fail as _fail
from modgate.cli.hashbank import hashbank_app
from modgate.cli.lists import lists_app
from modgate.cli.review import review_app
from modgate.cli.triton import triton_app
from modgate.errors import ConfigError, ModgateError

app = typer.Typer(
    help="modgate: self-hosted, low-latency content moderation.", no_args_is_help=True
)
train_app = typer.Typer(
    help="Train models from ../shared/data (or MODGATE_DATA_DIR).", no_args_is_help=True
)
export_app = typer.Typer(help="Export trained models to ONNX.", no_args_is_help=True)
policy_app = typer.Typer(help="Inspect and validate policy files.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(policy_app, name="policy")
app.add_typer(export_app, name="export")
app.add_typer(review_app, name="review")
app.add_typer(hashbank_app, name="hashbank")
app.add_typer(lists_app, name="lists")
app.add_typer(triton_app, name="triton")
app.add_typer(bench_app, name="bench")
app.command("eval")(eval_command)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (MODGATE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="gRPC port, 0 = any (MODGATE_PORT).")] = None,
    policy: Annotated[Path | None, typer.Option(help="Policy YAML (MODGATE_POLICY_PATH).")] = None,
) -> None:
    """Run the gRPC gateway on its settings (defaults: embedded ONNX Runtime on CPU)."""
    from gateway.server import serve as serve_gateway
    from modgate.logging import setup_logging
    from modgate.settings import load_gateway_settings

    overrides = {
        k: v
        for k, v in {"host": host, "port": port, "policy_path": policy}.items()
        if v is not None
    }
    try:
        settings = load_gateway_settings(**overrides)
        setup_logging(settings.log_level, json_lines=settings.log_json)
        asyncio.run(serve_gateway(settings))
    except ConfigError as exc:
        _fail(f"modgate serve: {exc}")


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Gateway gRPC port (MODGATE_PORT).")] = 50051,
    kafka_port: Annotated[int, typer.Option(help="Local broker port.")] = 9092,
    redis_port: Annotated[int, typer.Option(help="Local redis-server port.")] = 6379,
    state_dir: Annotated[
        Path, typer.Option(help="Spool and worker state (created if missing).")
    ] = Path(".modgate"),
) -> None:
    """Run everything on this machine: broker, Redis, gateway and a slow-path worker."""
    from modgate.cli.stack import run_stack
    from modgate.embedded import EmbeddedServerError
    from modgate.logging import setup_logging
    from modgate.settings import load_gateway_settings

    try:
        logging_settings = load_gateway_settings()
        setup_logging(logging_settings.log_level, json_lines=logging_settings.log_json)
        asyncio.run(
            run_stack(
                state_dir=state_dir,
                kafka_port=kafka_port,
                redis_port=redis_port,
                gateway_overrides={"port": port},
            )
        )
    except (ConfigError, EmbeddedServerError) as exc:
        _fail(f"modgate up: {exc}")


@app.command()
def worker() -> None:
    """Run one slow-path worker against MODGATE_STREAM__KAFKA_URL and MODGATE_REDIS__URL."""
    from modgate.logging import setup_logging
    from modgate.settings import load_slowpath_settings
    from slowpath.app import run_worker

    try:
        settings = load_slowpath_settings()
        setup_logging(settings.log_level, json_lines=settings.log_json)
        asyncio.run(run_worker(settings))
    except ConfigError as exc:
        _fail(f"modgate worker: {exc}")


@app.command()
def moderate(
    text: Annotated[str, typer.Option(help="Post text.")] = "",
    image: Annotated[list[Path] | None, typer.Option(help="Image file (repeatable).")] = None,
    target: Annotated[str, typer.Option(help="Gateway address HOST:PORT.")] = "127.0.0.1:50051",
    region: Annotated[str, typer.Option(help="Region code, e.g. DE or EU.")] = "",
    language: Annotated[str, typer.Option(help="Language hint, e.g. en.")] = "",
    post_id: Annotated[str, typer.Option(help="Post id (default: a random one).")] = "",
    author_id: Annotated[str, typer.Option()] = "",
    followers: Annotated[int | None, typer.Option()] = None,
    account_age_days: Annotated[float | None, typer.Option()] = None,
    timeout_s: Annotated[float, typer.Option(help="Client deadline in seconds.")] = 2.0,
) -> None:
    """Send one post to a running gateway and print the verdict as JSON."""
    import uuid

    import grpc
    from google.protobuf.json_format import MessageToDict

    from gateway.client import build_request
    from gateway.client import moderate as call

    request = build_request(
        post_id=post_id or f"cli-{uuid.uuid4().hex[:12]}",
        text=text,
        image_paths=image or [],
        region=region,
        language_hint=language,
        author_id=author_id,
        followers=followers,
        account_age_days=account_age_days,
    )
    try:
        verdict = asyncio.run(call(target, request, timeout_s=timeout_s))
    except grpc.aio.AioRpcError as exc:
        typer.echo(json.dumps({"status": exc.code().name, "details": exc.details()}), err=True)
        raise typer.Exit(1) from None
    as_dict = MessageToDict(
        verdict, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    typer.echo(json.dumps(as_dict, indent=2))


@app.command()
def score(
    in_path: Annotated[Path, typer.Option("--in", help="JSONL: one {id, text} per line.")],
    out_path: Annotated[Path, typer.Option("--out", help="JSONL verdicts, one per line.")],
    policy: Annotated[Path | None, typer.Option(help="Policy YAML (MODGATE_POLICY_PATH).")] = None,
    batch_size: Annotated[int, typer.Option(help="Posts per model batch.")] = 64,
) -> None:
    """Score a JSONL file in-process through the serving path (models, language id, policy)."""
    from decision import load_policy
    from gateway.batch_score import score_paths
    from modgate.settings import load_gateway_settings

    try:
        overrides = {"policy_path": policy} if policy else {}
        settings = load_gateway_settings(**overrides)
        loaded = load_policy(settings.policy_path)
        summary = score_paths(
            in_path, out_path, settings=settings, policy=loaded, batch_size=batch_size
        )
    except ModgateError as exc:
        _fail(str(exc))
    typer.echo(json.dumps({"out": str(out_path), **_as_dict(summary)}, indent=2))


@train_app.command("spam")
def train_spam(
    data_dir: Annotated[Path | None, typer.Option(help="Data root (MODGATE_DATA_DIR).")] = None,
    out: Annotated[Path | None, typer.Option(help="Artifact directory.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (MODGATE_SEED).")] = None,
    limit: Annotated[
        int | None, typer.Option(help="At most N rows per source, label and split (tiny runs).")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="Policy whose spam lines are evaluated.")
    ] = None,
) -> None:
    """Train the XGBoost spam model, export it to ONNX, check parity, evaluate it per source
    and across domains, write the model card."""
    from modgate.cli.evaluate import DecisionPolicy
    from modgate.settings import DEFAULT_POLICY, TrainSettings
    from retrain.spam import train_spam as run

    settings = TrainSettings()
    out_dir = out or settings.artifacts_dir / "spam"
    report = run(
        data_dir or settings.data_dir,
        out_dir,
        seed=settings.seed if seed is None else seed,
        policy=DecisionPolicy.load(policy or DEFAULT_POLICY),
        limit=limit,
    )
    typer.echo(json.dumps({"artifact": str(out_dir), **_as_dict(report)}, indent=2, default=str))


@train_app.command("text")
def train_text(
    data_dir: Annotated[Path | None, typer.Option(help="Data root (MODGATE_DATA_DIR).")] = None,
    out: Annotated[Path | None, typer.Option(help="Artifact directory.")] = None,
    checkpoint: Annotated[
        Path, typer.Option(help="Where the PyTorch checkpoint is written.")
    ] = Path("build/text-checkpoint"),
    init: Annotated[str, typer.Option(help="Start from: e5, minilm or scratch.")] = "e5",
    layers: Annotated[str, typer.Option(help="e5 encoder layers to keep, e.g. 0-5.")] = "0-5",
    epochs: Annotated[float, typer.Option(help="Passes over the training rows.")] = 1.5,
    cap: Annotated[
        int | None, typer.Option(help="Cap every source at N train rows (tiny runs, CI).")
    ] = None,
    max_pieces: Annotated[int, typer.Option(help="Vocabulary size after pruning (e5).")] = 60000,
    seed: Annotated[int | None, typer.Option(help="Random seed (MODGATE_SEED).")] = None,
    evaluate: Annotated[bool, typer.Option(help="Run the held-out evaluation.")] = True,
    exclude: Annotated[
        list[str] | None,
        typer.Option(help="Leave a source or corpus family out of training (repeatable)."),
    ] = None,
) -> None:
    """Fine-tune the text classifier, export ONNX (fp32 + int8), check parity, write the card.

    With --exclude, the run trains without those corpora and still tests on all of them
    (leave-one-source-out)."""
    from modgate.logging import setup_logging
    from modgate.settings import DEFAULT_POLICY, TrainSettings
    from retrain.text import TextTrainConfig, train_text_checkpoint
    from retrain.text_artifact import build_text_artifact

    setup_logging("INFO", json_lines=False)  # progress: data, steps with loss, evaluation
    settings = TrainSettings()
    config = TextTrainConfig(
        init=init,
        layers=layers,
        epochs=epochs,
        cap_all=cap,
        max_pieces=max_pieces,
        seed=settings.seed if seed is None else seed,
    )
    data = data_dir or settings.data_dir
    train_text_checkpoint(data, checkpoint, config, exclude=tuple(exclude or ()))
    metrics = build_text_artifact(
        checkpoint,
        out or settings.artifacts_dir / "text",
        data_dir=data,
        policy_path=DEFAULT_POLICY,
        evaluate=evaluate,
    )
    typer.echo(json.dumps({"version": metrics["version"], "parity": metrics["parity"]}, indent=2))


@export_app.command("text")
def export_text(
    checkpoint: Annotated[Path, typer.Option(help="Checkpoint from `modgate train text`.")],
    out: Annotated[Path | None, typer.Option(help="Artifact directory.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data root (MODGATE_DATA_DIR).")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Serving token budget.")] = None,
    evaluate: Annotated[bool, typer.Option(help="Run the held-out evaluation.")] = True,
) -> None:
    """Export a trained text checkpoint to ONNX (dynamic batch/sequence) + int8, with parity."""
    from modgate.logging import setup_logging
    from modgate.settings import DEFAULT_POLICY, TrainSettings
    from retrain.text_artifact import build_text_artifact

    setup_logging("INFO", json_lines=False)
    settings = TrainSettings()
    metrics = build_text_artifact(
        checkpoint,
        out or settings.artifacts_dir / "text",
        data_dir=data_dir or settings.data_dir,
        policy_path=DEFAULT_POLICY,
        max_tokens=max_tokens,
        evaluate=evaluate,
    )
    typer.echo(json.dumps({"version": metrics["version"], "parity": metrics["parity"]}, indent=2))


@export_app.command("image")
def export_image(
    checkpoint: Annotated[
        Path, typer.Argument(help="Hugging Face ViT checkpoint directory (or timm weights file).")
    ],
    out: Annotated[Path, typer.Option(help="Artifact directory to write.")],
    category: Annotated[
        list[str],
        typer.Option(help="CATEGORY=LABEL: the model label that scores a category (repeatable)."),
    ],
    version: Annotated[str | None, typer.Option(help="Model version (default: hash).")] = None,
    activation: Annotated[
        str | None, typer.Option(help="softmax | sigmoid | none (default: from the config).")
    ] = None,
    timm_model: Annotated[
        str | None, typer.Option(help="timm architecture name: export a timm checkpoint.")
    ] = None,
) -> None:
    """Export a ViT image classifier to ONNX (dynamic batch) with parity check and label map.

    Serve it by configuration, e.g. MODGATE_CLASSIFIERS='{..., "violence": "onnx:///OUT"}',
    with the category's thresholds in the policy file."""
    from export.errors import ExportError
    from export.image_onnx import export_image_checkpoint

    mapping: dict[str, str] = {}
    for item in category:
        name, sep, label = item.partition("=")
        if not sep or not name or not label:
            _fail(f"--category {item!r}: expected CATEGORY=LABEL, e.g. violence=violence")
        mapping[name] = label
    try:
        report = export_image_checkpoint(
            checkpoint,
            out,
            categories=mapping,
            version=version,
            activation=activation,
            timm_model=timm_model,
        )
    except ExportError as exc:
        _fail(f"export failed: {exc}")
        return
    typer.echo(json.dumps(_as_dict(report), indent=2, default=str))


@export_app.command("triton")
def export_triton(
    out: Annotated[Path, typer.Option(help="Model repository to write.")] = Path("triton_repo"),
    classifier: Annotated[
        list[str] | None,
        typer.Option(help="NAME=ARTIFACT_DIR (repeatable; default: text, spam and nsfw)."),
    ] = None,
    runtime: Annotated[
        str, typer.Option(help="onnxruntime (Triton's ORT backend) | python (python backend).")
    ] = "onnxruntime",
    device: Annotated[str, typer.Option(help="gpu | cpu: where the instances run.")] = "gpu",
    version: Annotated[int, typer.Option(help="Triton version directory to write.")] = 1,
    max_batch: Annotated[int, typer.Option(help="max_batch_size.")] = 64,
    preferred: Annotated[
        str, typer.Option(help="Preferred batch sizes, comma-separated.")
    ] = "8,16,32,64",
    queue_delay_us: Annotated[int, typer.Option(help="Dynamic batcher's max queue delay.")] = 500,
    instances: Annotated[int, typer.Option(help="Model instances (per GPU on gpu).")] = 1,
    keep_versions: Annotated[int, typer.Option(help="Latest versions kept loaded.")] = 2,
    tensorrt: Annotated[
        bool, typer.Option("--tensorrt/--no-tensorrt", help="TensorRT FP16 (onnxruntime, gpu).")
    ] = False,
    site_packages: Annotated[
        list[str] | None,
        typer.Option(help="Directory the python runtime's model.py puts on sys.path (repeatable)."),
    ] = None,
    configs_only: Annotated[
        bool, typer.Option("--configs-only/--weights", help="Write configs only, or copy weights.")
    ] = False,
) -> None:
    """Write a Triton Inference Server model repository from the ONNX model artifacts."""
    from export.errors import ExportError
    from export.triton_repo import (
        BatchingOptions,
        TritonDevice,
        TritonRuntime,
        default_classifiers,
        export_triton_repo,
    )

    classifiers = default_classifiers()
    if classifier:
        classifiers = {}
        for item in classifier:
            name, sep, path = item.partition("=")
            if not sep or not name or not path:
                _fail(f"--classifier {item!r}: expected NAME=ARTIFACT_DIR, e.g. text=models/x")
            classifiers[name] = Path(path)
    try:
        sizes = tuple(int(size) for size in preferred.split(",") if size.strip())
    except ValueError:
        _fail(f"--preferred {preferred!r}: expected comma-separated integers, e.g. 8,16,32")
        return
    if runtime not in set(TritonRuntime) or device not in set(TritonDevice):
        _fail(
            f"--runtime must be one of {list(TritonRuntime)}, --device one of {list(TritonDevice)}"
        )
    try:
        batching = BatchingOptions(max_batch, sizes, queue_delay_us, instances, keep_versions)
        report = export_triton_repo(
            out,
            classifiers,
            runtime=TritonRuntime(runtime),
            device=TritonDevice(device),
            version=version,
            batching=batching,
            tensorrt=tensorrt,
            site_packages=site_packages or (),
            configs_only=configs_only,
        )
    except ExportError as exc:
        _fail(f"export failed: {exc}")
        return
    typer.echo(json.dumps(_as_dict(report), indent=2, default=str))


def _as_dict(report: object) -> dict[str, object]:
    import dataclasses

    return dataclasses.asdict(report) if dataclasses.is_dataclass(report) else {"report": report}  # type: ignore[arg-type]


@policy_app.command("check")
def policy_check(path: Path) -> None:
    """Validate a policy file and print its effective thresholds per region."""
    from decision import load_policy

    try:
        policy = load_policy(path)
    except ConfigError as exc:
        _fail(str(exc))
    table: dict[str, dict[str, object]] = {}
    for region in ["", *policy.regions]:
        key = region or "default"
        table[key] = {
            cat: policy.effective(cat, region=region).model_dump(exclude={"description"})
            for cat in policy.categories
        }
    typer.echo(json.dumps({"version": policy.version, "effective": table}, indent=2))


@app.command()
def version() -> None:
    """Print the modgate version."""
    from modgate import __version__

    typer.echo(__version__)


def main() -> None:  # pragma: no cover - console entry
    sys.exit(app())
