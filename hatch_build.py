"""Build hook: generate the protobuf/gRPC stubs from ``proto/`` at build and editable-install time.

The wire contract lives in ``proto/moderation.proto``; the generated modules are build
outputs (git-ignored), never hand-edited. ``modgate.pb.build.generate`` does the work so
that CI and a developer can also run it directly (``python -m modgate.pb.build``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        spec = importlib.util.spec_from_file_location(
            "_modgate_pb_build", root / "modgate/pb/build.py"
        )
        if spec is None or spec.loader is None:
            raise RuntimeError("cannot load modgate/pb/build.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.generate(root)
