"""FlowResolver (what the call runtime asks) on SQLite and PostgreSQL: the live flow of a
number/employee/department, cached until ``forget``; module switches; forwarding graphs;
prompt files; espeak-ng renders cached by text."""

from __future__ import annotations

import wave
from typing import Any

import httpx
from promptaudio import tone, upload

from _peers import require_binary
from apitest import Api
from clickphone.config import Settings
from clickphone.db import Database
from clickphone.db.models import PhoneNumber
from clickphone.flows.model import ForwardNode, PlayNode
from clickphone.flows.resolver import FlowResolver


def play_graph(text: str) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "start", "type": "start"},
            {"id": "hello", "type": "play", "prompt": {"text": text}},
            {"id": "bye", "type": "hangup"},
        ],
        "edges": [
            {"source": "start", "output": "next", "target": "hello"},
            {"source": "hello", "output": "next", "target": "bye"},
        ],
    }


def greeting(graph: Any) -> str | None:
    node = graph.node("hello")
    assert isinstance(node, PlayNode)
    return node.prompt.text


async def _company(api: Api, name: str) -> tuple[httpx.AsyncClient, int]:
    c = await api.signup_company(name, f"owner@{name.lower()}.example")
    return c, int((await c.get("/api/v1/me")).json()["tenant"]["id"])


async def test_published_flow_cached_until_forget(
    api: Api, database: Database, settings: Settings
) -> None:
    a, ta = await _company(api, "Acme")
    _, tb = await _company(api, "Other")
    async with database.transaction() as s:
        number = PhoneNumber(e164="+74950000001", tenant_id=ta, state="assigned")
        s.add(number)
    dep = (await a.post("/api/v1/departments", json={"name": "Sales", "extension": "500"})).json()
    resolver = FlowResolver(database, settings.data_dir)

    fid = (await a.post("/api/v1/flows", json={"name": "Main", "graph": play_graph("v1")})).json()[
        "id"
    ]
    targets = [
        {"kind": "number", "target_id": number.id},
        {"kind": "department", "target_id": dep["id"]},
    ]
    assert (await a.put(f"/api/v1/flows/{fid}/attachments", json=targets)).status_code == 200
    # Attached but never published: calls keep their old routing.
    assert await resolver.flow_for(ta, "number", number.id) is None
    await a.post(f"/api/v1/flows/{fid}/publish")
    assert await resolver.flow_for(ta, "number", number.id) is None  # "no flow" was cached
    resolver.forget(tb)  # another tenant's event changes nothing here
    assert await resolver.flow_for(ta, "number", number.id) is None
    resolver.forget(ta)
    found = await resolver.flow_for(ta, "number", number.id)
    assert found is not None and (found.flow_id, found.version) == (fid, 1)
    assert greeting(found.graph) == "v1"
    dept = await resolver.flow_for(ta, "department", dep["id"])
    assert dept is not None and dept.flow_id == fid
    # Another tenant never gets it, whatever ids it asks for.
    assert await resolver.flow_for(tb, "number", number.id) is None

    # A new version is used once the runtime forgets (it does on flow.* events).
    await a.put(f"/api/v1/flows/{fid}/draft", json={"graph": play_graph("v2")})
    await a.post(f"/api/v1/flows/{fid}/publish")
    cached = await resolver.flow_for(ta, "number", number.id)
    assert cached is not None and cached.version == 1
    resolver.forget()
    fresh = await resolver.flow_for(ta, "number", number.id)
    assert fresh is not None and fresh.version == 2 and greeting(fresh.graph) == "v2"
    # Rollback and detaching are seen the same way.
    await a.post(f"/api/v1/flows/{fid}/versions/1/rollback")
    await a.put(f"/api/v1/flows/{fid}/attachments", json=targets[1:])
    resolver.forget(ta)
    assert await resolver.flow_for(ta, "number", number.id) is None
    back = await resolver.flow_for(ta, "department", dep["id"])
    assert back is not None and back.version == 3 and greeting(back.graph) == "v1"

    # Module switches.
    assert await resolver.modules(ta) == {}
    await a.put("/api/v1/flow-modules", json={"modules": {"ivr": True}})
    assert await resolver.modules(ta) == {}
    resolver.forget(ta)
    modules = await resolver.modules(ta)
    assert modules == {"ivr": True}
    modules["ivr"] = False  # callers get a copy
    assert await resolver.modules(ta) == {"ivr": True}


async def test_forwarding_and_audio(api: Api, database: Database, settings: Settings) -> None:
    a, ta = await _company(api, "Acme")
    _, tb = await _company(api, "Other")
    resolver = FlowResolver(database, settings.data_dir)
    me = (await a.get("/api/v1/me/forwarding")).json()
    emp = me["employee_id"]
    assert await resolver.forwarding_for(emp) is None
    assert await resolver.forwarding_for(999_999) is None
    rules = {
        "enabled": True,
        "steps": [{"destination": "+79161234567", "delay": {"value": 20, "unit": "seconds"}}],
    }
    assert (await a.put("/api/v1/me/forwarding", json=rules)).status_code == 200
    assert await resolver.forwarding_for(emp) is None  # cached until forgotten
    resolver.forget(ta)
    graph = await resolver.forwarding_for(emp)
    assert graph is not None
    forward = graph.node("forward_1")
    assert isinstance(forward, ForwardNode) and forward.destination == "+79161234567"
    await a.put("/api/v1/me/forwarding", json={**rules, "enabled": False})
    resolver.forget(ta)
    assert await resolver.forwarding_for(emp) is None

    pid = (await upload(a, tone("wav", "pcm_s16le"), "hi.wav")).json()["id"]
    path = resolver.prompt_path(ta, pid)
    assert path is not None and path.name == f"{pid}.wav"
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    assert resolver.prompt_path(tb, pid) is None  # not the other company's
    assert resolver.prompt_path(ta, "../../secret_key") is None
    assert resolver.prompt_path(ta, "0" * 32) is None


async def test_tts_render_is_cached(database: Database, settings: Settings) -> None:
    require_binary("espeak-ng")
    resolver = FlowResolver(database, settings.data_dir)
    first = await resolver.tts_path("Please hold the line.", "en")
    assert first.parent == settings.data_dir / "prompts" / "tts"
    with wave.open(str(first)) as w:
        assert (w.getframerate(), w.getnchannels()) == (8000, 1)
        assert w.getnframes() > 8000 * 0.5
    stamp = first.stat().st_mtime_ns
    again = await resolver.tts_path("Please hold the line.", "en")
    assert again == first and again.stat().st_mtime_ns == stamp  # rendered once
    russian = await resolver.tts_path("Please hold the line.", "ru")
    assert russian != first and russian.exists()
