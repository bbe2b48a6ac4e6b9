"""Typed, frozen settings for each deployable, read from ``MODGATE_*`` environment variables.

Only this module reads the environment. Everything is validated at boot: a bad value fails
``modgate serve`` with a clear message, not the first request. Backends are chosen by URL
(``onnx:///abs/path/model.onnx`` in-process; ``triton://host:8001/text`` once that backend
lands), one URL per classifier.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from modgate.errors import ConfigError

# Paths of what ships with the source tree (computed, not imported: modgate imports no room).
SOURCE_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS_DIR = SOURCE_ROOT / "models" / "artifacts"
DEFAULT_POLICY = SOURCE_ROOT / "configs" / "policy.yaml"
DEFAULT_DATA_DIR = SOURCE_ROOT.parent / "shared" / "data"

BACKEND_SCHEMES = frozenset({"onnx"})


class ExecutionProvider(StrEnum):
    """ONNX Runtime execution providers modgate knows how to ask for."""

    CPU = "cpu"
    CUDA = "cuda"
    TENSORRT = "tensorrt"


class ClassifierUrl(BaseModel):
    """A parsed classifier URL: backend scheme plus where the model is."""

    model_config = ConfigDict(frozen=True)

    scheme: str
    location: str

    @classmethod
    def parse(cls, name: str, url: str) -> ClassifierUrl:
        parts = urlsplit(url)
        if parts.scheme not in BACKEND_SCHEMES:
            known = ", ".join(sorted(BACKEND_SCHEMES))
            raise ValueError(
                f"classifier {name!r}: unknown backend {url!r} (known schemes: {known})"
            )
        location = parts.netloc + parts.path
        if parts.scheme == "onnx":
            path = Path(location)
            if not path.is_file():
                raise ValueError(f"classifier {name!r}: model file {path} does not exist")
        return cls(scheme=parts.scheme, location=location)


def _default_classifiers() -> dict[str, str]:
    return {
        "text": f"onnx://{ARTIFACTS_DIR / 'text' / 'model.onnx'}",
        "spam": f"onnx://{ARTIFACTS_DIR / 'spam' / 'model.onnx'}",
    }


class OnnxSettings(BaseModel):
    """In-process ONNX Runtime options shared by every ``onnx://`` classifier."""

    model_config = ConfigDict(frozen=True)

    providers: tuple[ExecutionProvider, ...] = (ExecutionProvider.CPU,)
    intra_op_threads: Annotated[int, Field(ge=0, le=256)] = 1
    inference_workers: Annotated[int, Field(ge=1, le=256)] = 2


class GatewaySettings(BaseSettings):
    """Everything ``modgate serve`` needs. Env: ``MODGATE_<FIELD>``, nested with ``__``."""

    model_config = SettingsConfigDict(
        env_prefix="MODGATE_", env_nested_delimiter="__", frozen=True, extra="forbid"
    )

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 50051
    # Prometheus metrics over HTTP on host:metrics_port; 0 turns the endpoint off.
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 9464
    deadline_ms: Annotated[float, Field(gt=0, le=60_000)] = 400.0
    policy_path: Path = DEFAULT_POLICY
    spike_mode: bool = False
    classifiers: dict[str, str] = Field(default_factory=_default_classifiers)
    onnx: OnnxSettings = OnnxSettings()
    # Input limits: anything over them is INVALID_ARGUMENT naming the field.
    max_text_chars: Annotated[int, Field(ge=1)] = 10_000
    max_images: Annotated[int, Field(ge=0)] = 4
    max_image_bytes: Annotated[int, Field(ge=1)] = 5 * 1024 * 1024
    max_id_chars: Annotated[int, Field(ge=1)] = 256
    max_metadata_entries: Annotated[int, Field(ge=0)] = 32
    max_metadata_value_chars: Annotated[int, Field(ge=1)] = 1024
    max_batch_posts: Annotated[int, Field(ge=1)] = 64
    max_message_bytes: Annotated[int, Field(ge=1024)] = 32 * 1024 * 1024
    max_concurrent_rpcs: Annotated[int, Field(ge=1)] = 1024
    shutdown_grace_s: Annotated[float, Field(ge=0)] = 5.0
    log_level: str = "INFO"
    log_json: bool = True

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

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return value.upper()

    def classifier_urls(self) -> dict[str, ClassifierUrl]:
        return {name: ClassifierUrl.parse(name, url) for name, url in self.classifiers.items()}


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
        raise ConfigError(f"invalid gateway settings:\n{exc}") from exc
