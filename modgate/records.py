"""Stream records: topic names, schema versioning and (de)serialization of the Kafka payloads.

The payloads are the protobuf messages of ``proto/records.proto``; this module is the one
place that knows which message lives on which topic, which schema versions a consumer
accepts, and how a feature dict (``modgate.types.Features``) travels on the wire. The
gateway produces and the slow path consumes, and neither may import the other, so both
use this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from modgate.errors import ModgateError
from modgate.pb import records_pb2 as rpb
from modgate.types import FeatureValue

SCHEMA_VERSION = 1
"""The records schema version this code writes and the highest it reads."""

M = TypeVar("M", bound=Message)


class RecordError(ModgateError):
    """A stream record cannot be used: undecodable, or of a schema version we do not know."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names, all under one prefix (``modgate.`` by default)."""

    prefix: str = "modgate."

    @property
    def deferred(self) -> str:
        return f"{self.prefix}deferred"

    @property
    def decisions(self) -> str:
        return f"{self.prefix}decisions"

    @property
    def actions(self) -> str:
        return f"{self.prefix}actions"

    @property
    def labels(self) -> str:
        return f"{self.prefix}labels"

    @property
    def dead_letter(self) -> str:
        return f"{self.prefix}deferred.dlq"

    def all(self) -> tuple[str, ...]:
        return (self.deferred, self.decisions, self.actions, self.labels, self.dead_letter)


def encode(message: Message) -> bytes:
    """Serialize a record, stamping the current schema version if it has none."""
    if getattr(message, "schema_version", None) == 0:
        message.schema_version = SCHEMA_VERSION  # type: ignore[attr-defined]
    return message.SerializeToString()


def decode(cls: type[M], data: bytes) -> M:
    """Parse a record of type ``cls``; RecordError if undecodable or of an unknown version."""
    kind = cls.DESCRIPTOR.name
    message = cls()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise RecordError(kind, f"undecodable payload ({len(data)} bytes): {exc}") from exc
    version = getattr(message, "schema_version", SCHEMA_VERSION)
    if not 1 <= version <= SCHEMA_VERSION:
        raise RecordError(kind, f"schema_version {version} not supported (<= {SCHEMA_VERSION})")
    return message


def features_to_wire(features: Mapping[str, FeatureValue]) -> dict[str, rpb.FeatureValue]:
    """A feature dict as the records' ``map<string, FeatureValue>`` (None stays unset)."""
    wire: dict[str, rpb.FeatureValue] = {}
    for name, value in features.items():
        if value is None:
            wire[name] = rpb.FeatureValue()
        elif isinstance(value, bool):
            wire[name] = rpb.FeatureValue(flag=value)
        elif isinstance(value, int | float):
            wire[name] = rpb.FeatureValue(number=float(value))
        else:
            wire[name] = rpb.FeatureValue(text=str(value))
    return wire


def features_from_wire(wire: Mapping[str, rpb.FeatureValue]) -> dict[str, FeatureValue]:
    """The inverse of ``features_to_wire`` (numbers come back as floats)."""
    out: dict[str, FeatureValue] = {}
    for name, value in wire.items():
        kind = value.WhichOneof("kind")
        out[name] = None if kind is None else getattr(value, kind)
    return out
