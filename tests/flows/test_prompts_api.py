"""Prompts over the HTTP API on SQLite and PostgreSQL: real WAV/MP3/Ogg/WebM audio made with
PyAV is accepted and normalised to 8 kHz mono; silent, clipped, too short/long/large and
garbage uploads are refused with their reason; espeak-ng renders text; isolation; a prompt a
flow plays cannot be deleted."""

from __future__ import annotations

from pathlib import Path

from promptaudio import tone, upload, wav_info

from _peers import require_binary
from apitest import Api, assert_error
from clickphone.config import Settings


async def test_uploads_are_checked_and_normalised(api: Api, settings: Settings) -> None:
    c = await api.signup_company("Acme", "owner@acme.example")
    tid = int((await c.get("/api/v1/me")).json()["tenant"]["id"])
    cases = [
        ("greeting.wav", tone("wav", "pcm_s16le", rate=44100), "wav", "upload"),
        ("greeting.mp3", tone("mp3", "libmp3lame", rate=22050, amp=0.2), "mp3", "upload"),
        ("greeting.ogg", tone("ogg", "libopus", rate=48000, amp=0.9), "ogg", "upload"),
        ("recording.webm", tone("webm", "libopus", rate=48000), "webm", "recorded"),
    ]
    ids = []
    for filename, data, container, source in cases:
        r = await upload(c, data, filename, name=f"P {filename}", source=source)
        assert r.status_code == 201, (filename, r.text)
        p = r.json()
        ids.append(p["id"])
        assert (p["source"], p["original_format"], p["original_filename"]) == (
            source,
            container,
            filename,
        )
        assert p["size_bytes"] == len(data) and abs(p["duration_seconds"] - 1.0) < 0.05
        audio = await c.get(p["audio_url"])
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
        rate, channels, width, seconds, level = wav_info(audio.content)
        assert (rate, channels, width) == (8000, 1, 2)
        assert abs(seconds - 1.0) < 0.05
        assert -21.5 < level < -18.5, level  # every upload ends at the same loudness
        folder = settings.data_dir / "prompts" / str(tid)
        assert (folder / f"{p['id']}.wav").read_bytes() == audio.content
        assert (folder / f"{p['id']}.orig{Path(filename).suffix}").read_bytes() == data

    page = (await c.get("/api/v1/prompts", params={"sort": "name"})).json()
    assert page["total"] == 4 and page["items"][0]["name"] == "P greeting.mp3"
    assert (await c.get(f"/api/v1/prompts/{ids[0]}")).json()["name"] == "P greeting.wav"


async def test_bad_audio_is_refused_with_a_reason(api: Api, settings: Settings) -> None:
    c = await api.signup_company("Acme", "owner@acme.example")
    refused = [
        (tone("wav", "pcm_s16le", amp=0.0), "silent"),
        (tone("wav", "pcm_s16le", amp=4.0), "clipped"),
        (tone("wav", "pcm_s16le", seconds=0.1), "too_short"),
        (tone("wav", "pcm_s16le", seconds=301, rate=8000), "too_long"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 20, "format"),
        (b"%PDF-1.7 not audio at all" * 10, "format"),
        (b"ID3" + bytes(21 * 1024 * 1024), "too_large"),
    ]
    for data, reason in refused:
        r = await upload(c, data, "x.wav")
        body = assert_error(r, 422, "audio_invalid")
        assert body["details"]["reason"] == reason, (reason, body)
    assert (await c.get("/api/v1/prompts")).json()["total"] == 0
    assert not list((settings.data_dir / "prompts").rglob("*.*"))  # nothing kept on disk

    r = await c.post("/api/v1/prompts", files={"file": ("a.wav", tone("wav", "pcm_s16le"))})
    assert_error(r, 422, "validation.failed")  # no name
    r = await c.post("/api/v1/prompts", content=b"x", headers={"content-type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")


async def test_isolation_roles_and_deleting(api: Api, settings: Settings) -> None:
    a = await api.signup_company("Acme", "owner@acme.example")
    b = await api.signup_company("Other", "owner@other.example")
    r = await upload(a, tone("wav", "pcm_s16le"), "menu.wav", name="Menu")
    pid = r.json()["id"]
    for path in (f"/api/v1/prompts/{pid}", f"/api/v1/prompts/{pid}/audio"):
        assert_error(await b.get(path), 404, "not_found")
    assert_error(await b.delete(f"/api/v1/prompts/{pid}"), 404, "not_found")
    assert_error(await b.get("/api/v1/prompts/../../secret_key/audio"), 404, "not_found")
    assert (await b.get("/api/v1/prompts")).json()["total"] == 0

    # Another company cannot use the prompt in its flows: it does not exist there.
    graph = {
        "nodes": [
            {"id": "start", "type": "start"},
            {"id": "hello", "type": "play", "prompt": {"audio": pid}},
            {"id": "bye", "type": "hangup"},
        ],
        "edges": [
            {"source": "start", "output": "next", "target": "hello"},
            {"source": "hello", "output": "next", "target": "bye"},
        ],
    }
    bf = (await b.post("/api/v1/flows", json={"name": "B", "graph": graph})).json()
    assert ("missing_audio", "hello") in {(p["code"], p["node_id"]) for p in bf["problems"]}
    assert_error(await b.post(f"/api/v1/flows/{bf['id']}/publish"), 422, "flow_invalid")
    af = (await a.post("/api/v1/flows", json={"name": "A", "graph": graph})).json()
    assert af["problems"] == []
    assert (await a.post(f"/api/v1/flows/{af['id']}/publish")).status_code == 201

    # Employees hear prompts but do not manage them.
    r = await a.post(
        "/api/v1/employees",
        json={"full_name": "Ann", "email": "ann@example.com", "password": "password123"},
    )
    assert r.status_code == 201, r.text
    ann = await api.signin("ann@example.com", "password123")
    assert (await ann.get(f"/api/v1/prompts/{pid}/audio")).status_code == 200
    assert_error(await upload(ann, tone("wav", "pcm_s16le"), "x.wav"), 403, "permission.denied")
    assert_error(await ann.delete(f"/api/v1/prompts/{pid}"), 403, "permission.denied")

    # A prompt the live flow plays cannot be deleted; once no flow plays it, it can.
    body = assert_error(await a.delete(f"/api/v1/prompts/{pid}"), 409, "prompt_in_use")
    assert body["details"]["flow_ids"] == [af["id"]]
    assert (await a.delete(f"/api/v1/flows/{af['id']}")).status_code == 204
    assert (await a.delete(f"/api/v1/prompts/{pid}")).status_code == 204
    assert not list((settings.data_dir / "prompts").rglob(f"{pid}*"))
    assert_error(await a.get(f"/api/v1/prompts/{pid}"), 404, "not_found")


async def test_text_to_speech_prompt(api: Api) -> None:
    require_binary("espeak-ng")
    c = await api.signup_company("Acme", "owner@acme.example")
    for lang, text in (("en", "Thank you for calling."), ("ru", "Спасибо за звонок.")):
        r = await c.post(
            "/api/v1/prompts", json={"name": f"Thanks {lang}", "text": text, "lang": lang}
        )
        assert r.status_code == 201, r.text
        p = r.json()
        assert (p["source"], p["text"], p["lang"]) == ("tts", text, lang)
        assert 0.5 < p["duration_seconds"] < 5
        rate, channels, _, seconds, level = wav_info((await c.get(p["audio_url"])).content)
        assert (rate, channels) == (8000, 1) and abs(seconds - p["duration_seconds"]) < 0.01
        assert -26 < level < -18.5  # speech peaks early: the -1 dBFS peak limit may bind
    r = await c.post("/api/v1/prompts", json={"name": "X", "text": "Hallo", "lang": "de"})
    assert "lang" in assert_error(r, 422, "validation.failed")["details"]["fields"]
    r = await c.post("/api/v1/prompts", json={"name": "X", "text": "   "})
    assert_error(r, 422, "validation.failed")
