"""The PDQ hash bank (models.hashbank) and ``modgate hashbank`` (modgate.cli.hashbank).

Real photos from scikit-image (bundled in its wheel): a transformed copy of a banked photo
(re-encoded, resized, slightly cropped, converted) must still match it, and the other
photos must not.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from skimage import data as skdata
from typer.testing import CliRunner

from models.hashbank import (
    PDQ_BITS,
    BankEntry,
    BankMatch,
    HashBank,
    HashBankError,
    hamming,
    hash_from_hex,
    hash_to_hex,
    pdq_hash,
)
from modgate.cli.hashbank import hashbank_app, read_rgb

THRESHOLD = 31
PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket")


@functools.cache
def photo(name: str) -> npt.NDArray[np.uint8]:
    img = np.asarray(getattr(skdata, name)(), dtype=np.uint8)
    if img.ndim == 2:  # camera is greyscale
        img = np.stack([img] * 3, axis=-1)
    img.setflags(write=False)
    return img


@functools.cache
def photo_hash(name: str) -> bytes:
    h, quality = pdq_hash(photo(name))
    assert quality >= 80, f"{name}: PDQ quality {quality}"
    return h


def _crop(img: Image.Image, fraction: float) -> Image.Image:
    """Remove ``fraction`` of the width and height, half on each side."""
    dx, dy = round(img.width * fraction / 2), round(img.height * fraction / 2)
    return img.crop((dx, dy, img.width - dx, img.height - dy))


def _half(img: Image.Image) -> Image.Image:
    return img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS)


def write_variant(name: str, variant: str, directory: Path) -> Path:
    """Save a transformed copy of a photo as a real file (so decoding is exercised too)."""
    img = Image.fromarray(photo(name))
    if variant == "jpeg60-half":  # re-encoded as JPEG quality 60 and resized to 50 %
        out = directory / f"{name}-{variant}.jpg"
        _half(img).save(out, quality=60)
    elif variant == "crop2-png":  # 2 % of width and height cropped away, saved as PNG
        out = directory / f"{name}-{variant}.png"
        _crop(img, 0.02).save(out)
    elif variant == "png":  # lossless conversion
        out = directory / f"{name}-{variant}.png"
        img.save(out)
    else:
        raise AssertionError(variant)
    return out


def entry(i: int | str, h: bytes | None = None, **kw: object) -> BankEntry:
    return BankEntry(id=f"e{i}", hash=h if h is not None else bytes(32), **kw)  # type: ignore[arg-type]


# -- the hash ------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["jpeg60-half", "crop2-png", "png"])
@pytest.mark.parametrize("name", PHOTOS)
def test_transformed_copy_matches_its_bank_entry(name: str, variant: str, tmp_path: Path) -> None:
    bank = HashBank(tmp_path / "bank.jsonl")
    bank.add_all(BankEntry(id=n, hash=photo_hash(n), label="test") for n in PHOTOS)
    copy = write_variant(name, variant, tmp_path)
    h, quality = pdq_hash(read_rgb(copy))
    distances = {n: hamming(h, photo_hash(n)) for n in PHOTOS}
    found = bank.match(h)
    assert found is not None, f"{name} {variant}: no match, distances {distances}"
    assert found.entry.id == name, f"{name} {variant}: matched {found}, distances {distances}"
    assert found.distance == distances[name] <= THRESHOLD, f"{name} {variant}: {distances}"
    others = {n: d for n, d in distances.items() if n != name}
    assert min(others.values()) > THRESHOLD, f"{name} {variant}: {distances}"
    assert quality >= 50, f"{name} {variant}: quality {quality}"
    if variant == "png":  # lossless: the very same pixels
        assert distances[name] == 0


def test_unrelated_photo_does_not_match(tmp_path: Path) -> None:
    bank = HashBank(tmp_path / "bank.jsonl")
    bank.add(BankEntry(id="astronaut", hash=photo_hash("astronaut")))
    for name in PHOTOS[1:]:
        h = photo_hash(name)
        nearest = bank.nearest(h)
        assert nearest is not None
        assert nearest.distance > THRESHOLD, f"{name} vs astronaut: {nearest.distance}"
        assert bank.match(h) is None, f"{name} vs astronaut: {nearest.distance}"
    pairs = {
        (a, b): hamming(photo_hash(a), photo_hash(b))
        for i, a in enumerate(PHOTOS)
        for b in PHOTOS[i + 1 :]
    }
    assert min(pairs.values()) > THRESHOLD, pairs


def test_hex_is_the_canonical_pdq_text_form() -> None:
    """Bit 0 of pdqhash's array is the most significant bit (as ThreatExchange's
    python-threatexchange and PDQ's reference hashers print it)."""
    import pdqhash

    bits, quality = pdqhash.compute(np.ascontiguousarray(photo("astronaut")))
    h, q = pdq_hash(photo("astronaut"))
    assert q == quality
    as_text = "%064x" % int("".join(str(int(b)) for b in bits), 2)  # noqa: UP031
    assert hash_to_hex(h) == as_text
    assert h[0] >> 7 == bits[0]
    assert h[31] & 1 == bits[255]


def test_hex_round_trip() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        h = rng.bytes(32)
        text = hash_to_hex(h)
        assert len(text) == 64
        assert text == text.lower()
        assert hash_from_hex(text) == h
        assert hash_from_hex(text.upper()) == h
        assert hash_from_hex(f"  {text}\n") == h
    assert hash_to_hex(photo_hash("coffee")) == photo_hash("coffee").hex()


@pytest.mark.parametrize(
    "bad", ["", "ab" * 31, "ab" * 33, "g" * 64, "0x" + "a" * 62, "ab " * 21 + "a", "a" * 63 + "-"]
)
def test_bad_hex_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        hash_from_hex(bad)


def test_hamming() -> None:
    zeros, ones = bytes(32), b"\xff" * 32
    assert hamming(zeros, zeros) == 0
    assert hamming(zeros, ones) == PDQ_BITS
    one_bit = bytes([0x80]) + bytes(31)
    assert hamming(zeros, one_bit) == 1
    rng = np.random.default_rng(1)
    for _ in range(20):
        a, b = rng.bytes(32), rng.bytes(32)
        expected = sum(bin(x ^ y).count("1") for x, y in zip(a, b, strict=True))
        assert hamming(a, b) == hamming(b, a) == expected
    with pytest.raises(ValueError, match="32 bytes"):
        hamming(zeros, bytes(31))


def test_flat_colour_image_has_low_quality() -> None:
    flat = np.full((256, 256, 3), (200, 40, 40), dtype=np.uint8)
    _, quality = pdq_hash(flat)
    assert quality < 50, quality
    _, quality = pdq_hash(photo("chelsea"))
    assert quality >= 50, quality


def test_pdq_hash_checks_its_input() -> None:
    with pytest.raises(ValueError, match="H x W x 3"):
        pdq_hash(np.zeros((8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        pdq_hash(np.zeros((8, 8, 3), dtype=np.float32))
    h, _ = pdq_hash(photo("rocket")[::2, ::2])  # a strided view is fine
    assert len(h) == 32


# -- entries -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["", "has space", "x" * 65, "ümlaut", "a/b", "a\nb", 7])
def test_bad_id_is_rejected(bad_id: object) -> None:
    with pytest.raises(ValueError, match="entry id"):
        BankEntry(id=bad_id, hash=bytes(32))  # type: ignore[arg-type]


def test_entry_validation() -> None:
    ok = BankEntry(id="a:b.c-d_E9", hash=bytearray(32), label="x" * 64, note="n" * 500)  # type: ignore[arg-type]
    assert ok.hash == bytes(32)
    assert isinstance(ok.hash, bytes)
    BankEntry(id="x" * 64, hash=bytes(32), quality=0)
    with pytest.raises(ValueError, match="32 bytes"):
        BankEntry(id="a", hash=bytes(31))
    with pytest.raises(ValueError, match="label"):
        BankEntry(id="a", hash=bytes(32), label="x" * 65)
    with pytest.raises(ValueError, match="note"):
        BankEntry(id="a", hash=bytes(32), note="x" * 501)
    with pytest.raises(ValueError, match="quality"):
        BankEntry(id="a", hash=bytes(32), quality=101)
    with pytest.raises(ValueError, match="added_at"):
        BankEntry(id="a", hash=bytes(32), added_at=float("nan"))
    e = BankEntry(id="a", hash=photo_hash("camera"), label="spam", added_at=12, quality=90)
    assert BankEntry.from_dict(json.loads(json.dumps(e.to_dict()))) == e


# -- the bank file -------------------------------------------------------------------------


def test_missing_file_is_an_empty_bank(tmp_path: Path) -> None:
    bank = HashBank(tmp_path / "nope" / "bank.jsonl")
    assert len(bank) == 0
    assert bank.entries() == []
    assert bank.match(photo_hash("coffee")) is None
    assert bank.nearest(photo_hash("coffee")) is None
    assert not (tmp_path / "nope").exists()


def test_add_and_remove_persist_atomically(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "bank.jsonl"
    bank = HashBank(path)
    first = BankEntry(id="astronaut", hash=photo_hash("astronaut"), label="csam", quality=100)
    second = BankEntry(id="rocket", hash=photo_hash("rocket"), note="from a report", added_at=1.5)
    bank.add(first)
    bank.add(second)
    assert path.is_file()
    assert HashBank(path).entries() == [first, second]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["astronaut", "rocket"]
    assert json.loads(lines[0])["hash"] == hash_to_hex(photo_hash("astronaut"))

    with pytest.raises(ValueError, match="already"):
        bank.add(BankEntry(id="rocket", hash=photo_hash("coffee")))
    assert bank.remove("astronaut") == first
    with pytest.raises(KeyError):
        bank.remove("astronaut")
    assert HashBank(path).entries() == [second]
    assert bank.get("rocket") == second
    assert "rocket" in bank
    assert os.listdir(path.parent) == ["bank.jsonl"], "temp files left behind"


def test_add_all_is_one_write_and_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    bank = HashBank(path)
    bank.add(entry(0))
    with pytest.raises(ValueError, match="e1"):
        bank.add_all([entry(2), entry(1), entry(1)])
    assert [e.id for e in HashBank(path).entries()] == ["e0"]
    added = bank.add_all([entry(0), entry(1), entry(1), entry(2)], skip_existing=True)
    assert [e.id for e in added] == ["e1", "e2"]
    assert [e.id for e in HashBank(path).entries()] == ["e0", "e1", "e2"]


def test_add_sees_an_external_edit_first(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    ours, theirs = HashBank(path), HashBank(path)
    theirs.add(entry(1))
    ours.add(entry(2))  # must not drop e1
    assert [e.id for e in HashBank(path).entries()] == ["e1", "e2"]


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    good = json.dumps(entry(1).to_dict())
    path.write_text(f"{good}\n\n{{not json\n", encoding="utf-8")
    with pytest.raises(HashBankError, match=r"bank\.jsonl:3: not valid JSON"):
        HashBank(path)
    path.write_text(f'\n{good}\n{{"id": "x", "hash": "abc"}}\n', encoding="utf-8")
    with pytest.raises(HashBankError, match=r"bank\.jsonl:3: bad entry: .*64 hex digits"):
        HashBank(path)
    path.write_text(f'{good}\n{{"hash": "{"0" * 64}"}}\n', encoding="utf-8")
    with pytest.raises(HashBankError, match=r":2: bad entry: missing 'id'"):
        HashBank(path)
    path.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(HashBankError, match=":1: bad entry: expected a JSON object"):
        HashBank(path)


def test_duplicate_id_in_file(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    line = json.dumps(entry(1).to_dict())
    other = json.dumps(entry(2).to_dict())
    path.write_text(f"{line}\n{other}\n\n{line}\n", encoding="utf-8")
    with pytest.raises(HashBankError, match=r":4: duplicate id 'e1' \(first on line 1\)"):
        HashBank(path)


def test_unknown_keys_and_blank_lines_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    path.write_text(
        f'\n  \n{{"id": "a", "hash": "{"F" * 64}", "source": "threatexchange"}}\n\n',
        encoding="utf-8",
    )
    (only,) = HashBank(path).entries()
    assert only == BankEntry(id="a", hash=b"\xff" * 32)


def _rewrite(path: Path, entries: list[BankEntry], extra: str = "") -> None:
    """An external edit, as an editor would save it (in place)."""
    text = "".join(json.dumps(e.to_dict()) + "\n" for e in entries)
    path.write_text(text + extra, encoding="utf-8")


def test_reload_if_changed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "bank.jsonl"
    bank = HashBank(path)
    assert bank.reload_if_changed() is False  # still missing

    _rewrite(path, [entry(1)])  # appeared
    assert bank.reload_if_changed() is True
    assert [e.id for e in bank.entries()] == ["e1"]
    assert bank.reload_if_changed() is False  # unchanged

    _rewrite(path, [entry(1), entry(2, photo_hash("camera"))])  # edited
    assert bank.reload_if_changed() is True
    assert len(bank) == 2
    found = bank.match(photo_hash("camera"))
    assert found is not None
    assert found.entry.id == "e2"

    path.unlink()  # vanished: empty bank
    assert bank.reload_if_changed() is True
    assert len(bank) == 0
    assert bank.match(photo_hash("camera")) is None

    _rewrite(path, [entry(3, photo_hash("camera"))])
    assert bank.reload_if_changed() is True
    assert [e.id for e in bank.entries()] == ["e3"]

    caplog.set_level(logging.WARNING, logger="models.hashbank")
    _rewrite(path, [entry(3, photo_hash("camera"))], extra="{broken\n")  # malformed
    assert bank.reload_if_changed() is False
    assert [e.id for e in bank.entries()] == ["e3"], "old entries must be kept"
    assert bank.match(photo_hash("camera")) is not None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "bank.jsonl:2" in warnings[0].getMessage()
    assert bank.reload_if_changed() is False
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1, "warned twice"

    _rewrite(path, [entry(3, photo_hash("camera")), entry(4)])  # fixed
    assert bank.reload_if_changed() is True
    assert len(bank) == 2


def test_max_distance_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_distance"):
        HashBank(tmp_path / "b.jsonl", max_distance=257)
    assert HashBank(tmp_path / "b.jsonl", max_distance=0).max_distance == 0
    assert HashBank(tmp_path / "b.jsonl").path == tmp_path / "b.jsonl"


# -- matching ------------------------------------------------------------------------------


def _flip(h: bytes, n: int, rng: np.random.Generator) -> bytes:
    bits = np.unpackbits(np.frombuffer(h, dtype=np.uint8))
    bits[rng.choice(PDQ_BITS, size=n, replace=False)] ^= 1
    return np.packbits(bits).tobytes()


def test_vectorised_match_equals_brute_force(tmp_path: Path) -> None:
    rng = np.random.default_rng(42)
    hashes = [rng.bytes(32) for _ in range(2000)]
    # A few exact duplicates at the end: ties must go to the first in the file.
    hashes += hashes[:5]
    bank = HashBank(tmp_path / "bank.jsonl", max_distance=THRESHOLD)
    bank.add_all(BankEntry(id=f"r{i}", hash=h) for i, h in enumerate(hashes))
    bank = HashBank(tmp_path / "bank.jsonl", max_distance=THRESHOLD)  # from the file

    queries = [rng.bytes(32) for _ in range(40)]
    queries += [_flip(hashes[int(rng.integers(2000))], n, rng) for n in (0, 1, 10, 30, 31, 32, 60)]
    queries += hashes[:3]
    for q in queries:
        dists = [hamming(q, h) for h in hashes]
        best = min(dists)
        first = dists.index(best)
        assert bank.distances(q).tolist() == dists
        assert bank.nearest(q) == BankMatch(bank.entries()[first], best)
        expected = BankMatch(bank.entries()[first], best) if best <= THRESHOLD else None
        assert bank.match(q) == expected, (best, first)
    assert bank.match(hashes[2]) == BankMatch(bank.entries()[2], 0)


def test_match_speed_on_100k_entries(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 256, size=(100_000, 32), dtype=np.uint8)
    bank = HashBank(tmp_path / "bank.jsonl")
    bank.add_all(BankEntry(id=f"h{i}", hash=row.tobytes()) for i, row in enumerate(raw))
    q = raw[99_999].tobytes()
    timings = []
    for _ in range(20):
        start = time.perf_counter()
        found = bank.match(q)
        timings.append(time.perf_counter() - start)
    assert found is not None
    assert found.entry.id == "h99999"
    best_ms = min(timings) * 1e3
    assert best_ms < 20, f"match on 100k entries took {best_ms:.2f} ms"


def test_match_during_reloads_is_consistent(tmp_path: Path) -> None:
    """Readers never see entries of one file with the matrix of another."""
    path = tmp_path / "bank.jsonl"
    target = photo_hash("chelsea")
    rng = np.random.default_rng(3)
    a = [BankEntry(id=f"a{i}", hash=rng.bytes(32)) for i in range(300)] + [
        BankEntry(id="a-hit", hash=target)
    ]
    b = [BankEntry(id="b-hit", hash=target)] + [
        BankEntry(id=f"b{i}", hash=rng.bytes(32)) for i in range(50)
    ]
    _rewrite(path, a)
    bank = HashBank(path)
    stop = threading.Event()
    errors: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            found = bank.match(target)
            if found is None or found.distance != 0 or found.entry.id not in {"a-hit", "b-hit"}:
                errors.append(repr(found))
            time.sleep(0)  # let the writer run

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    reloaded = []
    try:
        for i in range(20):
            tmp = tmp_path / "next.jsonl"
            _rewrite(tmp, b if i % 2 == 0 else a)
            os.replace(tmp, path)
            reloaded.append(bank.reload_if_changed())
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:3]
    assert all(reloaded), reloaded


# -- the CLI -------------------------------------------------------------------------------


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "img"
    d.mkdir()
    flat = d / "flat.png"
    Image.new("RGB", (300, 200), (30, 90, 200)).save(flat)
    not_image = d / "notes.png"
    not_image.write_text("not an image", encoding="utf-8")
    return {
        "astronaut": write_variant("astronaut", "png", d),
        "astronaut-small": write_variant("astronaut", "jpeg60-half", d),
        "rocket": write_variant("rocket", "png", d),
        "flat": flat,
        "not-image": not_image,
    }


def _run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(hashbank_app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_add_list_check_remove(tmp_path: Path, images: dict[str, Path]) -> None:
    bank = tmp_path / "bank" / "hashbank.jsonl"
    code, out, err = _run(
        "add", images["astronaut"], "--id", "astro-1", "--label", "spam-meme", "--note", "seen",
        "--min-quality", "50", "--bank", bank,
    )  # fmt: skip
    assert code == 0, err
    added = json.loads(out)
    assert added["id"] == "astro-1"
    assert added["hash"] == hash_to_hex(photo_hash("astronaut"))
    assert added["label"] == "spam-meme"
    assert added["quality"] == 100
    assert added["added_at"] > 0

    code, out, err = _run("list", "--bank", bank)
    assert code == 0, err
    assert "astro-1" in out
    assert "spam-meme" in out
    assert added["hash"] in out
    code, out, _ = _run("list", "--json", "--bank", bank)
    assert [json.loads(line) for line in out.splitlines()] == [added]

    code, out, err = _run(
        "check", images["astronaut-small"], images["rocket"], "--bank", bank, "--max-distance", "31"
    )
    assert code == 0, err
    small, rocket = (json.loads(line) for line in out.splitlines())
    assert small["path"] == str(images["astronaut-small"])
    assert small["match"] is not None, small
    assert small["match"]["id"] == "astro-1"
    assert small["match"]["label"] == "spam-meme"
    assert small["match"]["distance"] == small["nearest_distance"] <= THRESHOLD, small
    assert rocket["match"] is None, rocket
    assert rocket["nearest_distance"] > THRESHOLD, rocket
    assert rocket["pdq"] == hash_to_hex(photo_hash("rocket"))
    assert rocket["quality"] >= 50

    code, out, err = _run("remove", "astro-1", "--bank", bank)
    assert code == 0, err
    assert json.loads(out)["id"] == "astro-1"
    code, out, _ = _run("list", "--json", "--bank", bank)
    assert out == ""
    code, _, err = _run("remove", "astro-1", "--bank", bank)
    assert code == 2
    assert "no entry with id 'astro-1'" in err

    code, out, _ = _run("check", images["astronaut-small"], "--bank", bank, "--max-distance", "31")
    assert code == 0
    assert json.loads(out)["match"] is None
    assert json.loads(out)["nearest_distance"] is None


def test_cli_add_hash(tmp_path: Path) -> None:
    bank = tmp_path / "bank.jsonl"
    hex_hash = hash_to_hex(photo_hash("coffee"))
    code, out, err = _run(
        "add-hash", hex_hash.upper(), "--id", "te:123", "--label", "terror", "--bank", bank
    )
    assert code == 0, err
    assert json.loads(out)["hash"] == hex_hash
    assert HashBank(bank).entries()[0].label == "terror"
    code, _, err = _run("add-hash", hex_hash, "--id", "te:123", "--bank", bank)
    assert code == 2
    assert "already" in err
    code, _, err = _run("add-hash", "abc123", "--id", "te:124", "--bank", bank)
    assert code == 2
    assert "64 hex digits" in err
    code, _, err = _run("add-hash", hex_hash, "--id", "bad id", "--bank", bank)
    assert code == 2
    assert "entry id" in err
    assert len(HashBank(bank)) == 1


def test_cli_import(tmp_path: Path) -> None:
    bank = tmp_path / "bank.jsonl"
    h = [hash_to_hex(photo_hash(n)) for n in PHOTOS]
    _run("add-hash", h[0], "--id", "existing", "--bank", bank)
    listing = tmp_path / "export.txt"
    listing.write_text(
        f"# exported from ThreatExchange\n{h[1]}\n\n{h[2]}, coffee-1\n{h[3]},chelsea-1,csam\n"
        f"{h[4]},existing\n",
        encoding="utf-8",
    )
    code, out, err = _run("import", listing, "--label", "spam", "--bank", bank)
    assert code == 0, err
    assert json.loads(out) == {"read": 4, "added": 3, "skipped": 1, "total": 4}
    got = {e.id: e for e in HashBank(bank).entries()}
    assert set(got) == {"existing", f"pdq-{h[1][:12]}", "coffee-1", "chelsea-1"}
    assert got[f"pdq-{h[1][:12]}"].label == "spam"
    assert got["chelsea-1"].label == "csam"
    assert got["existing"].hash == hash_from_hex(h[0])
    code, out, _ = _run("import", listing, "--bank", bank)  # again: all skipped
    assert json.loads(out) == {"read": 4, "added": 0, "skipped": 4, "total": 4}

    broken = tmp_path / "broken.txt"
    broken.write_text(f"{h[1]},new-1\nnot-a-hash,new-2\n", encoding="utf-8")
    code, _, err = _run("import", broken, "--bank", bank)
    assert code == 2
    assert "broken.txt:2" in err
    assert "new-1" not in HashBank(bank), "nothing is written on a malformed import"


def test_cli_refuses_low_quality(tmp_path: Path, images: dict[str, Path]) -> None:
    bank = tmp_path / "bank.jsonl"
    code, _, err = _run(
        "add", images["flat"], "--id", "flat", "--min-quality", "50", "--bank", bank
    )
    assert code == 2
    assert "quality" in err
    assert "--force" in err
    assert not bank.exists()
    code, out, err = _run(
        "add", images["flat"], "--id", "flat", "--min-quality", "50", "--force", "--bank", bank
    )
    assert code == 0, err
    assert json.loads(out)["quality"] < 50


def test_cli_hash_and_bad_image(images: dict[str, Path]) -> None:
    code, out, err = _run("hash", images["astronaut"], images["rocket"])
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["pdq"] for line in lines] == [
        hash_to_hex(photo_hash("astronaut")),
        hash_to_hex(photo_hash("rocket")),
    ]
    assert lines[0] == {"path": str(images["astronaut"]), "pdq": lines[0]["pdq"], "quality": 100}
    code, _, err = _run("hash", images["not-image"])
    assert code == 2
    assert "not an image" in err
    code, _, err = _run("hash", images["astronaut"].with_name("missing.png"))
    assert code == 2
    assert "no such file" in err


def test_cli_defaults_come_from_gateway_settings(
    tmp_path: Path, images: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = tmp_path / "from-env" / "bank.jsonl"
    monkeypatch.setenv("MODGATE_HASHBANK__PATH", str(bank))
    monkeypatch.setenv("MODGATE_HASHBANK__MIN_QUALITY", "0")
    code, _, err = _run("add", images["flat"], "--id", "flat")  # allowed by min_quality 0
    assert code == 0, err
    assert [e.id for e in HashBank(bank).entries()] == ["flat"]
    monkeypatch.setenv("MODGATE_HASHBANK__MAX_DISTANCE", "0")
    code, out, err = _run("check", images["flat"])
    assert code == 0, err
    assert json.loads(out)["match"]["id"] == "flat"


def test_read_rgb_handles_alpha_and_orientation(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (40, 30), (255, 0, 0, 0))  # fully transparent red
    rgba.paste((0, 0, 255, 255), (0, 0, 20, 30))
    path = tmp_path / "alpha.png"
    rgba.save(path)
    arr = read_rgb(path)
    assert arr.shape == (30, 40, 3)
    assert arr.dtype == np.uint8
    assert arr[0, 0].tolist() == [0, 0, 255]
    assert arr[0, 39].tolist() == [255, 255, 255]  # transparent -> white

    img = Image.fromarray(photo("chelsea"))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    rotated_file = tmp_path / "exif.jpg"
    img.transpose(Image.Transpose.ROTATE_90).save(rotated_file, quality=95, exif=exif)
    shown = read_rgb(rotated_file)
    assert shown.shape == photo("chelsea").shape
    distance = hamming(pdq_hash(shown)[0], photo_hash("chelsea"))
    assert distance <= THRESHOLD, distance
