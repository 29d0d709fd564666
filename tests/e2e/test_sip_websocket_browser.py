"""SIP over WebSocket from a real browser: chromium's WebSocket negotiates the ``sip``
subprotocol with a running ``clickphone serve``, pings with OPTIONS and is challenged on
REGISTER (digest in JS and media are out of scope here; tests/telephony covers them)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

PAGE_SCRIPT = """
async ({url, domain}) => {
  const ws = new WebSocket(url, "sip");
  await new Promise((ok, bad) => {
    ws.onopen = ok;
    ws.onerror = () => bad(new Error("WebSocket refused"));
  });
  const next = () => new Promise((ok) => { ws.onmessage = (e) => ok(e.data); });
  const request = (method, ruri, cseq, extra) => [
    `${method} ${ruri} SIP/2.0`,
    `Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK${method}${cseq}`,
    "Max-Forwards: 70",
    `From: <sip:browser@${domain}>;tag=b${cseq}`,
    `To: <sip:browser@${domain}>`,
    `Call-ID: browser-${method}-${cseq}`,
    `CSeq: ${cseq} ${method}`,
    ...extra,
  ].join("\\r\\n") + "\\r\\n\\r\\n";
  ws.send(request("OPTIONS", `sip:${domain}`, 1, []));
  const options = await next();
  ws.send(request("REGISTER", `sip:${domain}`, 2,
    ["Contact: <sip:browser@df7jal23ls0d.invalid;transport=ws>", "Expires: 300"]));
  const register = await next();
  ws.close();
  return {protocol: ws.protocol, options, register};
}
"""


@pytest.fixture
def server_env() -> dict[str, str]:
    # 0: the server binds a free port itself and reports it in /health (a port probed here
    # could be handed to the server's SIP listener too)
    return {"CLICKPHONE_SIP_WS_PORT": "0"}


def test_browser_websocket_speaks_sip(server: Any, chromium_browser: Any) -> None:
    sip = httpx.get(f"{server.base_url}/api/v1/health", timeout=5).json()["sip"]
    ws_port = int(sip["ws_address"].rsplit(":", 1)[1])
    page = chromium_browser.new_page()
    try:
        page.goto(server.base_url)
        result = page.evaluate(
            PAGE_SCRIPT, {"url": f"ws://127.0.0.1:{ws_port}", "domain": server.sip_hostport}
        )
    finally:
        page.close()
    assert result["protocol"] == "sip"
    assert result["options"].startswith("SIP/2.0 200 ")
    assert "Call-ID: browser-OPTIONS-1" in result["options"]
    assert result["register"].startswith("SIP/2.0 401 ")
    assert "WWW-Authenticate: Digest " in result["register"]
    # The response came back over the socket: our Via, stamped with where it came from.
    assert (
        "Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKREGISTER2;received=127.0.0.1"
        in (result["register"])
    )
