"""Generate the Python protobuf/gRPC stubs from ``proto/*.proto`` into ``modgate/pb/``.

Used by the package build hook (``hatch_build.py``) so ``pip install -e .`` produces the
stubs, and runnable by hand: ``python -m modgate.pb.build``. grpc_tools writes absolute
imports (``import moderation_pb2``); they are rewritten to package-relative imports.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def generate(root: Path) -> list[Path]:
    """Compile every ``root/proto/*.proto`` into ``root/modgate/pb``; return written files."""
    from grpc_tools import protoc  # build-time dependency only

    proto_dir = root / "proto"
    out_dir = root / "modgate" / "pb"
    protos = sorted(proto_dir.glob("*.proto"))
    if not protos:
        raise RuntimeError(f"no .proto files under {proto_dir}")
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{proto_dir}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *[str(p) for p in protos],
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed for {', '.join(p.name for p in protos)}")
    stems = [p.stem for p in protos]
    written = sorted(out_dir.glob("*_pb2*.py")) + sorted(out_dir.glob("*_pb2*.pyi"))
    pattern = re.compile(r"^import (" + "|".join(re.escape(s) for s in stems) + r")_pb2 as", re.M)
    for path in written:
        text = path.read_text()
        fixed = pattern.sub(r"from . import \1_pb2 as", text)
        if fixed != text:
            path.write_text(fixed)
    return written


if __name__ == "__main__":
    here = Path(__file__).resolve().parents[2]
    for written_path in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else here):
        print(written_path)
