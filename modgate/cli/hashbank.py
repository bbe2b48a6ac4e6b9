"""``modgate hashbank``: manage the bank of known-bad image hashes (PDQ) and test images on it.

``add`` hashes an image into the bank (refusing low-quality hashes unless ``--force``),
``add-hash`` and ``import`` take hashes from elsewhere (a ThreatExchange export), ``remove``
and ``list`` manage it, ``hash`` prints hashes and ``check`` says which bank entry, if any,
an image matches. The bank is ``--bank`` or ``MODGATE_HASHBANK__PATH`` (default
``.modgate/hashbank.jsonl``); the running gateway picks up changes on its own.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from modgate.cli.failure import fail

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from models.hashbank import BankEntry, HashBank
    from modgate.settings import HashBankSettings

hashbank_app = typer.Typer(
    help="Manage the bank of known-bad image hashes (PDQ).", no_args_is_help=True
)

Bank = Annotated[
    Path | None,
    typer.Option(
        "--bank",
        help="Bank file, JSON Lines (default: MODGATE_HASHBANK__PATH, .modgate/hashbank.jsonl).",
        dir_okay=False,
    ),
]
EntryId = Annotated[str, typer.Option("--id", help="Entry id: 1-64 of A-Z a-z 0-9 _ . : -")]
Label = Annotated[str, typer.Option(help='Category, e.g. "csam", "terror", "spam-meme".')]
Note = Annotated[str, typer.Option(help="Free-text note (source, case number).")]


def _fail(message: str) -> NoReturn:
    fail(f"modgate hashbank: {message}")


def _line(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False))


def _settings() -> HashBankSettings:
    from modgate.errors import ConfigError
    from modgate.settings import load_gateway_settings

    try:
        return load_gateway_settings().hashbank
    except ConfigError as exc:
        _fail(f"{exc}\n(pass --bank / --min-quality / --max-distance to skip the settings)")


def _open_bank(bank: Path | None, max_distance: int | None = None) -> HashBank:
    from models.hashbank import HashBank, HashBankError

    path = bank if bank is not None else _settings().path
    try:
        if max_distance is None:
            return HashBank(path)
        return HashBank(path, max_distance=max_distance)
    except HashBankError as exc:
        _fail(str(exc))


def read_rgb(path: Path) -> npt.NDArray[np.uint8]:
    """An image file as an ``H x W x 3`` uint8 RGB array: EXIF orientation applied, first
    frame of an animation, transparency composited onto white. ValueError if unreadable."""
    import warnings

    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                image = ImageOps.exif_transpose(opened)
                if image.has_transparency_data:
                    rgba = image.convert("RGBA")
                    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    image = Image.alpha_composite(white, rgba)
                return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not an image Pillow can read") from None
    except (
        OSError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise ValueError(f"{path}: cannot read the image: {exc}") from None


def _hash_image(path: Path) -> tuple[bytes, int]:
    from models.hashbank import pdq_hash

    try:
        return pdq_hash(read_rgb(path))
    except ValueError as exc:
        _fail(str(exc))


def _entry(**fields: Any) -> BankEntry:
    from models.hashbank import BankEntry

    try:
        return BankEntry(**fields)
    except ValueError as exc:
        _fail(str(exc))


def _add(bank: HashBank, entry: BankEntry) -> None:
    from models.hashbank import HashBankError

    same = bank.nearest(entry.hash)
    try:
        bank.add(entry)
    except (ValueError, HashBankError) as exc:
        _fail(str(exc))
    if same is not None and same.distance == 0:
        typer.echo(
            f"modgate hashbank: note: the same hash is already in the bank as {same.entry.id!r}",
            err=True,
        )
    _line(entry.to_dict())


@hashbank_app.command("add")
def add(
    image: Annotated[Path, typer.Argument(help="Image file (any format Pillow reads).")],
    entry_id: EntryId,
    label: Label = "",
    note: Note = "",
    min_quality: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=100,
            help="Refuse hashes below this PDQ quality (MODGATE_HASHBANK__MIN_QUALITY).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Add even a low-quality hash.")] = False,
    bank: Bank = None,
) -> None:
    """Hash an image (PDQ) and add it to the bank; prints the entry as JSON."""
    h, quality = _hash_image(image)
    floor = min_quality if min_quality is not None else _settings().min_quality
    if quality < floor and not force:
        _fail(
            f"{image}: PDQ quality {quality} is below {floor} (a flat, tiny or featureless "
            "image: its hash would match unrelated images); pass --force to add it anyway"
        )
    entry = _entry(
        id=entry_id, hash=h, label=label, note=note, added_at=time.time(), quality=quality
    )
    _add(_open_bank(bank), entry)


@hashbank_app.command("add-hash")
def add_hash(
    pdq: Annotated[str, typer.Argument(metavar="HEX", help="PDQ hash, 64 hex digits.")],
    entry_id: EntryId,
    label: Label = "",
    note: Note = "",
    bank: Bank = None,
) -> None:
    """Add a PDQ hash received from elsewhere (e.g. a ThreatExchange export)."""
    from models.hashbank import hash_from_hex

    try:
        h = hash_from_hex(pdq)
    except ValueError as exc:
        _fail(str(exc))
    _add(
        _open_bank(bank), _entry(id=entry_id, hash=h, label=label, note=note, added_at=time.time())
    )


@hashbank_app.command("import")
def import_hashes(
    file: Annotated[
        Path,
        typer.Argument(
            help='Text file of "hex[,id[,label]]" lines; blank lines and # comments skipped.'
        ),
    ],
    label: Annotated[str, typer.Option(help="Label for lines that name none.")] = "",
    bank: Bank = None,
) -> None:
    """Bulk-add hashes from a text file of "hex[,id[,label]]" lines.

    The id defaults to pdq-<first 12 hex digits>; ids already in the bank are skipped. A
    malformed line stops the import before anything is written. Prints counts as JSON.
    """
    from models.hashbank import BankEntry, HashBankError, hash_from_hex

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{file}: cannot read: {exc}")
    now = time.time()
    entries: list[BankEntry] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) > 3:
            _fail(f"{file}:{lineno}: expected hex[,id[,label]], got {len(fields)} fields")
        try:
            h = hash_from_hex(fields[0])
            entries.append(
                BankEntry(
                    id=(fields[1] if len(fields) > 1 and fields[1] else f"pdq-{h.hex()[:12]}"),
                    hash=h,
                    label=(fields[2] if len(fields) > 2 and fields[2] else label),
                    note=f"imported from {file.name}"[:500],
                    added_at=now,
                )
            )
        except ValueError as exc:
            _fail(f"{file}:{lineno}: {exc}")
    hb = _open_bank(bank)
    try:
        added = hb.add_all(entries, skip_existing=True)
    except (ValueError, HashBankError) as exc:
        _fail(str(exc))
    _line(
        {
            "read": len(entries),
            "added": len(added),
            "skipped": len(entries) - len(added),
            "total": len(hb),
        }
    )


@hashbank_app.command("remove")
def remove(
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="Id of the entry to delete.")],
    bank: Bank = None,
) -> None:
    """Delete an entry; prints it as JSON."""
    from models.hashbank import HashBankError

    hb = _open_bank(bank)
    try:
        removed = hb.remove(entry_id)
    except KeyError:
        _fail(f"no entry with id {entry_id!r} in {hb.path}")
    except HashBankError as exc:
        _fail(str(exc))
    _line(removed.to_dict())


@hashbank_app.command("list")
def list_entries(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
    bank: Bank = None,
) -> None:
    """The entries in file order: a table, or JSON lines with --json."""
    hb = _open_bank(bank)
    entries = hb.entries()
    if as_json:
        for e in entries:
            _line(e.to_dict())
        return
    if not entries:
        typer.echo(f"{hb.path}: no entries", err=True)
        return
    rows = [
        (
            e.id,
            e.label or "-",
            "-" if e.quality is None else str(e.quality),
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(e.added_at)) if e.added_at else "-",
            e.hash.hex(),
        )
        for e in entries
    ]
    header = ("ID", "LABEL", "Q", "ADDED (UTC)", "PDQ")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        typer.echo("  ".join([*cells, row[-1]]))
    typer.echo(f"{len(entries)} entries in {hb.path}", err=True)


@hashbank_app.command("hash")
def hash_images(
    images: Annotated[list[Path], typer.Argument(help="Image files.")],
) -> None:
    """Print the PDQ hash and quality of each image as a JSON line."""
    for image in images:
        h, quality = _hash_image(image)
        _line({"path": str(image), "pdq": h.hex(), "quality": quality})


@hashbank_app.command("check")
def check(
    images: Annotated[list[Path], typer.Argument(help="Image files.")],
    max_distance: Annotated[
        int | None,
        typer.Option(
            min=0, max=256, help="Match threshold in bits (MODGATE_HASHBANK__MAX_DISTANCE)."
        ),
    ] = None,
    bank: Bank = None,
) -> None:
    """Match each image against the bank, one JSON line per image.

    Each line has the match (id, label, distance) or null, and the distance to the nearest
    entry. Exits 0 whether or not anything matched.
    """
    if max_distance is None:
        max_distance = _settings().max_distance
    hb = _open_bank(bank, max_distance)
    for image in images:
        h, quality = _hash_image(image)
        nearest = hb.nearest(h)
        hit = nearest if nearest is not None and nearest.distance <= hb.max_distance else None
        _line(
            {
                "path": str(image),
                "pdq": h.hex(),
                "quality": quality,
                "match": None
                if hit is None
                else {"id": hit.entry.id, "label": hit.entry.label, "distance": hit.distance},
                "nearest_distance": None if nearest is None else nearest.distance,
            }
        )
