"""Test stand-ins for call-flow storage (the runtime's FlowLookup) and generated prompts."""

from __future__ import annotations

import math
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from clickphone.flows.model import FlowGraph


def tone_wav(path: Path, freq: float, seconds: float) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(9000 * math.sin(2 * math.pi * freq * i / 8000)))
                for i in range(int(8000 * seconds))
            )
        )
    return path


@dataclass
class Published:
    flow_id: int
    version: int
    graph: FlowGraph


@dataclass
class FakeFlows:
    """Flow storage as the runtime sees it (the real one is clickphone.flows.resolver)."""

    folder: Path
    flows: dict[tuple[str, int], FlowGraph] = field(default_factory=dict)
    forwarding: dict[int, FlowGraph] = field(default_factory=dict)
    prompts: dict[str, Path] = field(default_factory=dict)
    module_flags: dict[str, bool] = field(default_factory=dict)

    async def flow_for(
        self, tenant_id: int, kind: Literal["number", "employee", "department"], target_id: int
    ) -> Published | None:
        graph = self.flows.get((kind, target_id))
        return Published(1, 1, graph) if graph is not None else None

    async def forwarding_for(self, employee_id: int) -> FlowGraph | None:
        return self.forwarding.get(employee_id)

    def prompt_path(self, tenant_id: int, prompt_id: str) -> Path | None:
        return self.prompts.get(prompt_id)

    async def tts_path(self, text: str, lang: str = "en") -> Path:
        path = self.folder / "tts-stand-in.wav"  # a tone stands in for speech here
        if not path.exists():
            tone_wav(path, 500.0, 1.0)
        return path

    async def modules(self, tenant_id: int) -> dict[str, bool]:
        return dict(self.module_flags)

    def forget(self, tenant_id: int | None = None) -> None:
        pass
