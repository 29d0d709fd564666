/** Live status over the /api/v1/ws WebSocket: reconnects with backoff; the Status page polls
 * while it is down. Events invalidate the queries they affect; snapshots replace the active
 * calls directly. */
import { useEffect, useRef, useState } from "react";
import { useQueryClient, type QueryKey } from "@tanstack/react-query";

export type ActiveCall = {
  id: string;
  tenant_id: number;
  caller: string;
  caller_name: string;
  callee: string;
  state: string;
  started_at: string;
  answered_at: string | null;
};

export type LiveMessage =
  | { type: "hello"; user_id: number; tenant_id: number | null }
  | { type: "snapshot"; at: string; active_calls: ActiveCall[]; devices_online: number }
  | { type: "event"; event: { id: string; type: string; tenant_id: number | null; payload: unknown } }
  | { type: "dropped"; count: number };

export const ACTIVE_CALLS_KEY = ["calls", "active"] as const;
/** Close code the server uses when the session is gone: do not reconnect. */
export const CLOSE_SIGNED_OUT = 4401;

export function wsUrl(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/api/v1/ws`;
}

/** Exponential backoff with jitter: ~1 s, 2 s, 4 s ... capped at 30 s. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5));
  return Math.round(base * (0.75 + random() * 0.5));
}

/** The query keys (prefixes) a bus event makes stale. */
export function staleKeys(eventType: string): QueryKey[] {
  if (eventType.startsWith("call.")) return [["calls"]];
  if (eventType === "sip.registration.changed" || eventType.startsWith("device."))
    return [["devices"]];
  if (eventType.startsWith("employee.")) return [["employees"], ["devices"]];
  // the server sends these only to the users they concern (a conversation's members)
  if (eventType.startsWith("message.")) return [["messages"]];
  if (eventType === "notification.created") return [["notifications"]];
  // likewise only to those who may hear the voicemail
  if (eventType.startsWith("voicemail.")) return [["voicemail"]];
  return [];
}

export const ALL_LIVE_KEYS: QueryKey[] = [["calls"], ["devices"], ["employees"]];

export function parseMessage(data: unknown): LiveMessage | null {
  if (typeof data !== "string") return null;
  try {
    const msg = JSON.parse(data) as LiveMessage;
    return msg && typeof msg === "object" && typeof msg.type === "string" ? msg : null;
  } catch {
    return null;
  }
}

export type LiveState = { connected: boolean; snapshotAt: Date | null };

export function useLiveStatus(enabled = true): LiveState {
  const qc = useQueryClient();
  const [state, setState] = useState<LiveState>({ connected: false, snapshotAt: null });
  const pending = useRef(new Map<string, QueryKey>());

  useEffect(() => {
    if (!enabled || typeof WebSocket === "undefined") return;
    let socket: WebSocket | null = null;
    let attempt = 0;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let flush: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;

    // Bursts of events (a call rings five phones) refetch once.
    const invalidate = (keys: QueryKey[]) => {
      for (const k of keys) pending.current.set(JSON.stringify(k), k);
      if (flush) return;
      flush = setTimeout(() => {
        flush = undefined;
        const keys = [...pending.current.values()];
        pending.current.clear();
        for (const queryKey of keys) void qc.invalidateQueries({ queryKey });
      }, 250);
    };

    const connect = () => {
      socket = new WebSocket(wsUrl(window.location));
      socket.onopen = () => {
        attempt = 0;
        setState((s) => ({ ...s, connected: true }));
        invalidate(ALL_LIVE_KEYS); // catch up on what happened while disconnected
      };
      socket.onmessage = (ev) => {
        const msg = parseMessage(ev.data);
        if (!msg) return;
        if (msg.type === "snapshot") {
          qc.setQueryData(ACTIVE_CALLS_KEY, {
            items: msg.active_calls,
            total: msg.active_calls.length,
          });
          setState({ connected: true, snapshotAt: new Date(msg.at) });
        } else if (msg.type === "event") {
          invalidate(staleKeys(msg.event.type));
        } else if (msg.type === "dropped") {
          invalidate(ALL_LIVE_KEYS);
        }
      };
      socket.onclose = (ev) => {
        socket = null;
        setState((s) => ({ ...s, connected: false }));
        if (stopped || ev.code === CLOSE_SIGNED_OUT) return;
        retry = setTimeout(connect, backoffDelay(attempt++));
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      clearTimeout(flush);
      socket?.close();
    };
  }, [enabled, qc]);

  return state;
}
