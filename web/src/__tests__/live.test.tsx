import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, cleanup, renderHook } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ACTIVE_CALLS_KEY,
  backoffDelay,
  parseMessage,
  staleKeys,
  useLiveStatus,
  wsUrl,
} from "../lib/live";

class FakeSocket {
  static all: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  closed = false;
  constructor(public url: string) {
    FakeSocket.all.push(this);
  }
  close() {
    this.closed = true;
  }
  open() {
    this.onopen?.();
  }
  send(msg: unknown) {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  drop(code = 1006) {
    this.onclose?.({ code });
  }
}

beforeEach(() => {
  FakeSocket.all = [];
  vi.useFakeTimers();
  vi.stubGlobal("WebSocket", FakeSocket);
});

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

function setup() {
  const qc = new QueryClient();
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={qc}>{children}</QueryClientProvider>
  );
  const hook = renderHook(() => useLiveStatus(), { wrapper });
  return { qc, hook };
}

describe("live status helpers", () => {
  it("builds the socket URL from the page's scheme and host", () => {
    expect(wsUrl({ protocol: "http:", host: "127.0.0.1:8080" })).toBe(
      "ws://127.0.0.1:8080/api/v1/ws",
    );
    expect(wsUrl({ protocol: "https:", host: "pbx.example" })).toBe("wss://pbx.example/api/v1/ws");
  });

  it("backs off exponentially with jitter, capped at 30 s", () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 4, 5, 9].map((a) => backoffDelay(a, mid))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
    expect(backoffDelay(0, () => 0)).toBe(750);
    expect(backoffDelay(10, () => 1)).toBe(37500);
  });

  it("maps events to the queries they make stale", () => {
    expect(staleKeys("call.answered")).toEqual([["calls"]]);
    expect(staleKeys("sip.registration.changed")).toEqual([["devices"]]);
    expect(staleKeys("device.created")).toEqual([["devices"]]);
    expect(staleKeys("employee.deleted")).toEqual([["employees"], ["devices"]]);
    expect(staleKeys("tenant.created")).toEqual([]);
  });

  it("ignores frames that are not JSON messages", () => {
    expect(parseMessage("nope")).toBeNull();
    expect(parseMessage(new ArrayBuffer(2))).toBeNull();
    expect(parseMessage('{"type":"dropped","count":2}')).toEqual({ type: "dropped", count: 2 });
  });
});

describe("useLiveStatus", () => {
  it("puts snapshots into the active-calls query and refetches on events", () => {
    const { qc, hook } = setup();
    const invalidate = vi.spyOn(qc, "invalidateQueries");
    const ws = FakeSocket.all[0];
    expect(ws.url).toMatch(/\/api\/v1\/ws$/);
    act(() => ws.open());
    expect(hook.result.current.connected).toBe(true);
    // On (re)connect everything live is refetched once, to catch up.
    act(() => vi.advanceTimersByTime(300));
    expect(invalidate).toHaveBeenCalledTimes(3);
    const call = { id: "c1", callee: "102", state: "ringing" };
    act(() => ws.send({ type: "snapshot", at: new Date().toISOString(), active_calls: [call] }));
    expect(qc.getQueryData(ACTIVE_CALLS_KEY)).toEqual({ items: [call], total: 1 });
    invalidate.mockClear();
    act(() => {
      ws.send({ type: "event", event: { id: "1", type: "call.started", payload: {} } });
      ws.send({ type: "event", event: { id: "2", type: "call.answered", payload: {} } });
      vi.advanceTimersByTime(300);
    });
    // A burst refetches once.
    expect(invalidate).toHaveBeenCalledTimes(1);
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ["calls"] });
  });

  it("reconnects after a drop, but not once the session is gone", () => {
    const { hook } = setup();
    act(() => FakeSocket.all[0].open());
    act(() => FakeSocket.all[0].drop());
    expect(hook.result.current.connected).toBe(false);
    expect(FakeSocket.all).toHaveLength(1);
    act(() => vi.advanceTimersByTime(1600));
    expect(FakeSocket.all).toHaveLength(2);
    act(() => FakeSocket.all[1].drop(4401));
    act(() => vi.advanceTimersByTime(60_000));
    expect(FakeSocket.all).toHaveLength(2);
  });

  it("closes the socket when the page goes away", () => {
    const { hook } = setup();
    hook.unmount();
    expect(FakeSocket.all[0].closed).toBe(true);
    act(() => vi.advanceTimersByTime(60_000));
    expect(FakeSocket.all).toHaveLength(1);
  });
});
