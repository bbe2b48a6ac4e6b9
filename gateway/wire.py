"""Decode request bytes strictly: malformed protobuf, invalid UTF-8 and unknown fields are
rejected with the offending field's path, so the caller gets INVALID_ARGUMENT it can act on.

grpc's default deserializer would turn a bad payload into an opaque INTERNAL error, so the
gateway registers its handlers with raw bytes in and decodes here. When the protobuf runtime
rejects a payload it does not say which field was wrong; ``_locate_bad_field`` walks the wire
format against the message descriptor to name it (e.g. ``text: invalid UTF-8``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass
from google.protobuf.unknown_fields import UnknownFieldSet

from modgate.errors import BadInputError

M = TypeVar("M", bound=Message)

_VARINT, _I64, _LEN, _SGROUP, _EGROUP, _I32 = 0, 1, 2, 3, 4, 5


def decode(message_type: type[M], data: bytes) -> M:
    """Parse ``data`` as ``message_type``; raise BadInputError naming the bad field."""
    message = message_type()
    try:
        message.ParseFromString(data)
    except DecodeError:
        path, problem = _locate_bad_field(message_type.DESCRIPTOR, data, "")
        raise BadInputError(path or "request", problem) from None
    unknown = _first_unknown_field(message, "")
    if unknown:
        raise BadInputError(*unknown)
    return message


def _first_unknown_field(message: Message, prefix: str) -> tuple[str, str] | None:
    """(path, problem) of the first unknown field. Protobuf also files a *known* field sent
    with the wrong wire type (a string where a number belongs) as unknown: name it."""
    unknown = UnknownFieldSet(message)
    if len(unknown):
        number = unknown[0].field_number
        known = message.DESCRIPTOR.fields_by_number.get(number)
        if known is not None:
            return f"{prefix}{known.name}", "wrong type for this field"
        return (
            f"{prefix}#{number}",
            "unknown field (is the client's proto newer than the server's?)",
        )
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        if _is_map(field):
            continue
        if _is_repeated(field):
            for i, item in enumerate(value):
                found = _first_unknown_field(item, f"{prefix}{field.name}[{i}].")
                if found:
                    return found
        else:
            found = _first_unknown_field(value, f"{prefix}{field.name}.")
            if found:
                return found
    return None


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _is_map(field: Any) -> bool:
    return bool(field.message_type is not None and field.message_type.GetOptions().map_entry)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _locate_bad_field(desc: Any, data: bytes, prefix: str) -> tuple[str, str]:
    """Best-effort: the path of the first field that makes ``data`` undecodable."""
    pos, counts = 0, dict[int, int]()
    while pos < len(data):
        try:
            key, pos = _varint(data, pos)
        except ValueError:
            return prefix.rstrip(".") or "request", "malformed protobuf (truncated field key)"
        number, wire_type = key >> 3, key & 7
        field = desc.fields_by_number.get(number)
        name = field.name if field is not None else f"#{number}"
        index = counts.get(number, 0)
        counts[number] = index + 1
        if field is not None and _is_repeated(field):
            name = f"{name}[{index}]"
        path = f"{prefix}{name}"
        try:
            if wire_type == _VARINT:
                _, pos = _varint(data, pos)
            elif wire_type == _I64:
                pos += 8
            elif wire_type == _I32:
                pos += 4
            elif wire_type == _LEN:
                size, pos = _varint(data, pos)
                chunk = data[pos : pos + size]
                if len(chunk) < size:
                    return path, "malformed protobuf (length runs past the end)"
                pos += size
                problem = _check_len_field(field, chunk, path)
                if problem:
                    return problem
            else:
                return path, f"malformed protobuf (unsupported wire type {wire_type})"
        except ValueError:
            return path, "malformed protobuf (truncated value)"
        if pos > len(data):
            return path, "malformed protobuf (value runs past the end)"
    return prefix.rstrip(".") or "request", "malformed protobuf"


def _check_len_field(
    field: FieldDescriptor | None, chunk: bytes, path: str
) -> tuple[str, str] | None:
    if field is None:
        return None
    if field.type == FieldDescriptor.TYPE_STRING:
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            return path, "invalid UTF-8"
        return None
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        message_type: Any = field.message_type
        probe = GetMessageClass(message_type)()
        try:
            probe.ParseFromString(chunk)
        except DecodeError:
            inner = _locate_bad_field(field.message_type, chunk, f"{path}.")
            if _is_map(field):
                return path, inner[1]
            return inner
    return None
