/** The voicemail inbox: API calls, query keys and the pure helpers of the Voicemail page
 * (unit-tested). Every key sits under ["voicemail"], which the live socket's
 * ``voicemail.created`` refreshes. */
import { api, call, type Schemas } from "../api/client";
import { dialable } from "./callback";

export type Voicemail = Schemas["VoicemailOut"];
export type VoicemailPage = Schemas["VoicemailPageOut"];

export const VOICEMAIL_KEY = ["voicemail"] as const;
export const VOICEMAIL_UNREAD_KEY = ["voicemail", "unread"] as const;
export const VOICEMAIL_LIST_KEY = ["voicemail", "list"] as const;

export interface VoicemailFilters {
  q: string;
  unread: boolean;
  offset: number;
  limit: number;
}

/** The list's query parameters: newest first, empty search left out. */
export function voicemailQuery(f: VoicemailFilters): {
  q?: string;
  unread?: boolean;
  sort: string;
  limit: number;
  offset: number;
} {
  const q = f.q.trim();
  return {
    ...(q ? { q } : {}),
    ...(f.unread ? { unread: true } : {}),
    sort: "-created_at",
    limit: f.limit,
    offset: Math.max(0, f.offset),
  };
}

/** Where a voicemail's audio (WAV, range requests) is served from. */
export function voicemailAudioUrl(id: string): string {
  return `/api/v1/voicemails/${encodeURIComponent(id)}/audio`;
}

/** "Ivan Petrov · +74951234567", the number alone, or null when the caller is unknown. */
export function callerLabel(v: { caller: string; caller_name: string }): string | null {
  const name = v.caller_name.trim();
  const number = v.caller.trim();
  if (name && number && name !== number) return `${name} · ${number}`;
  return name || number || null;
}

/** The number "Call back" dials for a voicemail: its caller, when dialable. */
export function voicemailCallBack(v: { caller: string }): string | null {
  return dialable(v.caller) ? v.caller.trim() : null;
}

/** A cached page with one voicemail marked read (the row stays where it is while it plays,
 * even under the "unread" filter) and the server's new unread count. */
export function markedRead(
  page: VoicemailPage | undefined,
  id: string,
  at: string,
  unread?: number,
): VoicemailPage | undefined {
  if (!page) return page;
  let changed = false;
  const items = page.items.map((v) => {
    if (v.id !== id || v.read_at) return v;
    changed = true;
    return { ...v, read_at: at };
  });
  const count = unread ?? (changed ? Math.max(0, page.unread - 1) : page.unread);
  return { ...page, items, unread: count };
}

export const voicemailApi = {
  list: (f: VoicemailFilters) =>
    call(api.GET("/api/v1/voicemails", { params: { query: voicemailQuery(f) } })),
  unread: () => call(api.GET("/api/v1/voicemails/unread")),
  markRead: (id: string) =>
    call(
      api.POST("/api/v1/voicemails/{voicemail_id}/read", {
        params: { path: { voicemail_id: id } },
      }),
    ),
  markAllRead: () => call(api.POST("/api/v1/voicemails/read", { body: {} })),
  remove: (id: string) =>
    call(
      api.DELETE("/api/v1/voicemails/{voicemail_id}", { params: { path: { voicemail_id: id } } }),
    ),
};
