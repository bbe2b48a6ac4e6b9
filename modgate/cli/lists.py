"""``modgate lists``: the trust-and-safety lists (domains, keywords, RE2 patterns).

``show`` prints the entries, ``add`` and ``remove`` edit the file (validated, written
atomically), ``test`` prints what a text hits. The file is ``--lists`` or
``MODGATE_LISTS__PATH`` (default ``.modgate/lists.yaml``); a running gateway picks up changes
within ``MODGATE_LISTS__RELOAD_S`` (5 s), no restart. See ``models/lists.py`` for the format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from modgate.cli.failure import fail

lists_app = typer.Typer(
    help="Manage the trust-and-safety lists (domains, keywords, RE2 patterns).",
    no_args_is_help=True,
)

ListsPath = Annotated[
    Path | None,
    typer.Option(
        "--lists",
        help="Lists file, YAML (default: MODGATE_LISTS__PATH, .modgate/lists.yaml).",
        dir_okay=False,
    ),
]


def _fail(message: str) -> NoReturn:
    fail(f"modgate lists: {message}")


def _path(given: Path | None) -> Path:
    if given is not None:
        return given
    from modgate.errors import ConfigError
    from modgate.settings import load_gateway_settings

    try:
        return load_gateway_settings().lists.path
    except ConfigError as exc:
        _fail(f"{exc}\n(pass --lists to skip the settings)")


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@lists_app.command("show")
def show(lists: ListsPath = None) -> None:
    """Print every entry."""
    from models.lists import ListsError, read_entries

    path = _path(lists)
    try:
        entries = read_entries(path) if path.exists() else []
    except ListsError as exc:
        _fail(str(exc))
    _print({"path": str(path), "entries": [e.to_dict() for e in entries]})


@lists_app.command("add")
def add(
    kind: Annotated[str, typer.Option(help="domain | keyword | regex")],
    value: Annotated[str, typer.Option(help="The domain, phrase or RE2 pattern.")],
    category: Annotated[str, typer.Option(help="Policy category, e.g. spam.")],
    reason: Annotated[str, typer.Option(help="Reason code: <category>.list.<reason>.")],
    block: Annotated[bool, typer.Option("--block/--allow", help="Block or allow list.")] = True,
    action: Annotated[str, typer.Option(help="Block entries: remove | defer.")] = "defer",
    note: Annotated[str, typer.Option(help="Free text (source, ticket).")] = "",
    lists: ListsPath = None,
) -> None:
    """Add an entry (refused if it is invalid, RE2 cannot run it, or it is a duplicate)."""
    from models.lists import ListsError, entry_from, read_entries, write_entries

    path = _path(lists)
    data = {
        "kind": kind,
        "value": value,
        "list": "block" if block else "allow",
        "category": category,
        "action": action if block else "allow",
        "reason": reason,
        "note": note,
    }
    try:
        entries = read_entries(path) if path.exists() else []
        entry = entry_from(data, "the new entry")
        key = (entry.kind, entry.value, entry.list, entry.category)
        if any((e.kind, e.value, e.list, e.category) == key for e in entries):
            _fail(f"{entry.kind} {entry.value!r} is already on the {entry.list} list")
        write_entries(path, [*entries, entry])
    except ListsError as exc:
        _fail(str(exc))
    _print({"added": entry.to_dict(), "code": entry.code, "entries": len(entries) + 1})


@lists_app.command("remove")
def remove(
    value: Annotated[str, typer.Option(help="The value of the entry to remove.")],
    lists: ListsPath = None,
) -> None:
    """Remove every entry with this value."""
    from models.lists import ListsError, read_entries, write_entries

    path = _path(lists)
    try:
        entries = read_entries(path) if path.exists() else []
    except ListsError as exc:
        _fail(str(exc))
    kept = [e for e in entries if e.value not in (value, value.lower())]
    if len(kept) == len(entries):
        _fail(f"no entry with value {value!r}")
    write_entries(path, kept)
    _print({"removed": len(entries) - len(kept), "entries": len(kept)})


@lists_app.command("test")
def try_text(text: str, lists: ListsPath = None) -> None:
    """Print the entries a text hits (matched as the gateway matches it)."""
    from models.lists import Lists, ListsError

    try:
        loaded = Lists(_path(lists))
    except ListsError as exc:
        _fail(str(exc))
    hits = loaded.match(text)
    _print(
        [
            {
                "code": h.entry.code,
                "list": h.entry.list,
                "action": h.entry.action,
                "matched": h.matched,
            }
            for h in hits
        ]
    )
