/** Messages (chat with colleagues, SMS, mass mailings, the message-history report): API calls,
 * query keys and the pure helpers the pages share (grouping SMS threads by contact, status
 * marks, filters → query string). */
import { api, call, type Schemas } from "../api/client";
import { parseDateInput } from "./calllog";

export type Conversation = Schemas["ConversationOut"];
export type Message = Schemas["MessageOut"];
export type Member = Schemas["MemberOut"];
export type Line = Schemas["LineOut"];
export type Preview = Schemas["PreviewOut"];
export type Campaign = Schemas["CampaignOut"];
export type Recipient = Schemas["RecipientOut"];
export type HistoryOut = Schemas["HistoryOut"];
export type HistoryRow = Schemas["HistoryRow"];
export type HistoryTotals = Schemas["HistoryTotals"];

// -- query keys: every one under ["messages"], which the live socket's message events refresh --

export const MESSAGES_KEY = ["messages"] as const;
export const CONVERSATIONS_KEY = ["messages", "conversations"] as const;
export const UNREAD_KEY = ["messages", "unread"] as const;
export const LINES_KEY = ["messages", "lines"] as const;
export const CAMPAIGNS_KEY = ["messages", "campaigns"] as const;
export const threadKey = (id: number) => ["messages", "thread", id] as const;
export const campaignKey = (id: number) => ["messages", "campaigns", id] as const;

/** Largest page the conversation's messages come in. */
export const THREAD_PAGE = 50;

// -- API ---------------------------------------------------------------------------------

export const messagesApi = {
  conversations: () => call(api.GET("/api/v1/messages/conversations")),
  unread: () => call(api.GET("/api/v1/messages/unread")),
  lines: () => call(api.GET("/api/v1/messages/lines")),
  open: (body: Schemas["ConversationIn"]) =>
    call(api.POST("/api/v1/messages/conversations", { body })),
  thread: (id: number, before?: string) =>
    call(
      api.GET("/api/v1/messages/conversations/{conversation_id}/messages", {
        params: { path: { conversation_id: id }, query: { limit: THREAD_PAGE, before } },
      }),
    ),
  post: (id: number, body: Schemas["MessageIn"]) =>
    call(
      api.POST("/api/v1/messages/conversations/{conversation_id}/messages", {
        params: { path: { conversation_id: id } },
        body,
      }),
    ),
  sendFile: (id: number, file: File, text: string) => {
    const form = new FormData();
    form.append("file", file, file.name);
    if (text) form.append("text", text);
    return call(
      api.POST("/api/v1/messages/conversations/{conversation_id}/files", {
        params: { path: { conversation_id: id } },
        // multipart: openapi-fetch passes FormData through and the browser sets the boundary
        body: form as unknown as { file: string; text?: string },
      }),
    );
  },
  remove: (messageId: string) =>
    call(api.DELETE("/api/v1/messages/{message_id}", { params: { path: { message_id: messageId } } })),
  email: (messageId: string, to: string | null) =>
    call(
      api.POST("/api/v1/messages/{message_id}/email", {
        params: { path: { message_id: messageId } },
        body: { to: to || null },
      }),
    ),
  sms: (body: Schemas["SmsIn"]) => call(api.POST("/api/v1/messages/sms", { body })),
  preview: (text: string, translit: boolean) =>
    call(api.POST("/api/v1/messages/sms/preview", { body: { text, translit } })),
  members: (id: number, body: { add?: number[]; remove?: number[] }) =>
    call(
      api.POST("/api/v1/messages/conversations/{conversation_id}/members", {
        params: { path: { conversation_id: id } },
        body: { add: body.add ?? [], remove: body.remove ?? [] },
      }),
    ),
  deleteGroup: (id: number) =>
    call(
      api.DELETE("/api/v1/messages/conversations/{conversation_id}", {
        params: { path: { conversation_id: id } },
      }),
    ),
  campaigns: () => call(api.GET("/api/v1/messages/campaigns")),
  campaign: (id: number) =>
    call(api.GET("/api/v1/messages/campaigns/{campaign_id}", { params: { path: { campaign_id: id } } })),
  createCampaign: (body: Schemas["CampaignIn"]) =>
    call(api.POST("/api/v1/messages/campaigns", { body })),
  cancelCampaign: (id: number) =>
    call(
      api.POST("/api/v1/messages/campaigns/{campaign_id}/cancel", {
        params: { path: { campaign_id: id } },
      }),
    ),
  repeatCampaign: (id: number, recipients: Schemas["RepeatIn"]["recipients"]) =>
    call(
      api.POST("/api/v1/messages/campaigns/{campaign_id}/repeat", {
        params: { path: { campaign_id: id } },
        body: { recipients },
      }),
    ),
  history: (query: HistoryQuery, limit: number, offset: number) =>
    call(api.GET("/api/v1/messages/history", { params: { query: { ...query, limit, offset } } })),
};

/** Where a message's file downloads from. */
export function fileUrl(messageId: string): string {
  return `/api/v1/messages/${encodeURIComponent(messageId)}/file`;
}

// -- conversations: titles and grouping -----------------------------------------------------

/** The name a conversation goes by for ``meId``: the colleague, the group, the SMS partner. */
export function conversationTitle(conv: Conversation, meId: number | undefined): string {
  if (conv.kind === "group") return conv.title || "#" + conv.id;
  if (conv.kind === "sms") return conv.contact?.name || conv.external_number || "";
  const other = conv.members.find((m) => m.user_id !== meId) ?? conv.members[0];
  return other?.full_name || conv.title || "#" + conv.id;
}

/** One line of the conversation list: a chat, or an SMS partner with one or more numbers. */
export interface ChatEntry {
  key: string;
  kind: "direct" | "group" | "sms";
  title: string;
  /** The entry's conversations, the most recent first (several: one partner, several numbers). */
  conversations: Conversation[];
  unread: number;
  lastAt: string;
  lastMessage: Message | null;
  contactId: number | null;
}

function activity(c: Conversation): string {
  return c.last_message_at ?? c.created_at;
}

function later(a: string, b: string): number {
  return new Date(b).getTime() - new Date(a).getTime();
}

/** The conversation list with SMS threads of the same contact merged into one chat partner
 * ("a person with several numbers is one partner"), the most recent activity first. */
export function groupConversations(convs: readonly Conversation[], meId?: number): ChatEntry[] {
  const byKey = new Map<string, Conversation[]>();
  for (const c of convs) {
    const key = c.kind === "sms" && c.contact ? `contact:${c.contact.id}` : `conv:${c.id}`;
    const list = byKey.get(key);
    if (list) list.push(c);
    else byKey.set(key, [c]);
  }
  const out: ChatEntry[] = [];
  for (const [key, list] of byKey) {
    list.sort((a, b) => later(activity(a), activity(b)) || b.id - a.id);
    const head = list[0]!;
    const withLast = list.filter((c) => c.last_message);
    withLast.sort((a, b) => later(a.last_message!.created_at, b.last_message!.created_at));
    out.push({
      key,
      kind: head.kind as ChatEntry["kind"],
      title: conversationTitle(head, meId),
      conversations: list,
      unread: list.reduce((n, c) => n + c.unread, 0),
      lastAt: activity(head),
      lastMessage: withLast[0]?.last_message ?? null,
      contactId: head.kind === "sms" ? (head.contact?.id ?? null) : null,
    });
  }
  return out.sort((a, b) => later(a.lastAt, b.lastAt) || a.key.localeCompare(b.key));
}

/** The entry holding conversation ``id``. */
export function entryOf(entries: readonly ChatEntry[], id: number | null): ChatEntry | undefined {
  if (id == null) return undefined;
  return entries.find((e) => e.conversations.some((c) => c.id === id));
}

/** Whether the search box's text matches the entry (name, number, member, last message). */
export function matchesSearch(entry: ChatEntry, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  const digits = q.replace(/[^\d]/g, "");
  const texts = [entry.title, entry.lastMessage?.body ?? ""];
  for (const c of entry.conversations) {
    texts.push(c.title, c.external_number ?? "", ...c.members.map((m) => m.full_name));
    for (const m of c.members) if (m.extension) texts.push(m.extension);
  }
  if (texts.some((s) => s.toLowerCase().includes(q))) return true;
  return (
    digits.length >= 3 &&
    entry.conversations.some((c) => (c.external_number ?? "").replace(/\D/g, "").includes(digits))
  );
}

// -- message states ---------------------------------------------------------------------------

export type MarkIcon = "check" | "checks" | "x" | "clock" | "hourglass" | "ban" | "inbox";

export interface StatusMark {
  icon: MarkIcon;
  color: string;
  /** i18n key of the status's name */
  label: `msg.status.${string}`;
}

const MARKS: Record<string, StatusMark> = {
  sent: { icon: "check", color: "gray", label: "msg.status.sent" },
  delivered: { icon: "checks", color: "teal", label: "msg.status.delivered" },
  failed: { icon: "x", color: "red", label: "msg.status.failed" },
  scheduled: { icon: "clock", color: "blue", label: "msg.status.scheduled" },
  queued: { icon: "hourglass", color: "yellow", label: "msg.status.queued" },
  sending: { icon: "hourglass", color: "yellow", label: "msg.status.sending" },
  cancelled: { icon: "ban", color: "gray", label: "msg.status.cancelled" },
  received: { icon: "inbox", color: "blue", label: "msg.status.received" },
};

/** How a delivery state shows: sent ✓, delivered ✓✓, not delivered ✗, scheduled 🕑, ... */
export function statusMark(status: string): StatusMark {
  return MARKS[status] ?? { icon: "hourglass", color: "gray", label: "msg.status.queued" };
}

export const PENDING_STATES = ["scheduled", "queued", "sending"] as const;

export function isPending(status: string): boolean {
  return (PENDING_STATES as readonly string[]).includes(status);
}

/** Messages the user may delete: their own, not deleted yet. */
export function canDelete(m: Message, meId: number | undefined): boolean {
  return meId !== undefined && m.sender_user_id === meId && !m.deleted_at;
}

/** May ``meId`` remove other members or delete the group (its creator or an admin)? */
export function canManageGroup(conv: Conversation, meId: number | undefined, admin: boolean): boolean {
  return conv.kind === "group" && (admin || (meId !== undefined && conv.created_by_user_id === meId));
}

/** The file a message carries (name, size, mime), if any. */
export function attachmentOf(m: Message): { name: string; size: number; mime: string } | null {
  const a = m.attachment;
  if (!a || m.deleted_at || typeof a["name"] !== "string") return null;
  return {
    name: a["name"],
    size: typeof a["size"] === "number" ? a["size"] : 0,
    mime: typeof a["mime"] === "string" ? a["mime"] : "",
  };
}

// -- composer helpers ---------------------------------------------------------------------------

/** A `datetime-local` field's value as an ISO time (null when empty or invalid). */
export function scheduledIso(local: string): string | null {
  if (!local.trim()) return null;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** A time as a `datetime-local` field's value (local time, minutes). */
export function localInputValue(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Numbers pasted one per line (or separated by commas / semicolons), without duplicates. */
export function parseNumbers(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of text.split(/[\n,;]+/)) {
    const n = raw.trim();
    if (!n) continue;
    const key = n.replace(/[\s()-]/g, "");
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(n);
  }
  return out;
}

/** A mailing's counts by state as delivered / failed / pending / total. */
export function campaignSummary(counts: Record<string, number>): {
  delivered: number;
  failed: number;
  pending: number;
  total: number;
} {
  let total = 0;
  let pending = 0;
  for (const [state, n] of Object.entries(counts)) {
    total += n;
    if (isPending(state)) pending += n;
  }
  return {
    delivered: (counts["delivered"] ?? 0) + (counts["received"] ?? 0),
    failed: counts["failed"] ?? 0,
    pending,
    total,
  };
}

// -- the message-history report ---------------------------------------------------------------

export type ChannelFilter = "all" | "chat" | "sms";
export type MsgDirectionFilter = "all" | "internal" | "incoming" | "outgoing";
export type StatusFilter =
  | "all"
  | "pending"
  | "sent"
  | "delivered"
  | "failed"
  | "received"
  | "cancelled"
  | "scheduled";

export interface HistoryFilters {
  /** dd/mm/yyyy as typed (also dd.mm.yyyy, yyyy-mm-dd); empty: the API's default period */
  from: string;
  to: string;
  channel: ChannelFilter;
  direction: MsgDirectionFilter;
  status: StatusFilter;
  /** a user id or an extension */
  employee: string;
  number: string;
  q: string;
}

export const NO_HISTORY_FILTERS: HistoryFilters = {
  from: "",
  to: "",
  channel: "all",
  direction: "all",
  status: "all",
  employee: "",
  number: "",
  q: "",
};

export interface HistoryQuery {
  from?: string;
  to?: string;
  channel?: "chat" | "sms";
  direction?: "internal" | "incoming" | "outgoing";
  status?: Exclude<StatusFilter, "all">;
  employee?: string;
  number?: string;
  q?: string;
}

/** The filters as /messages/history query parameters: dates are local days, "to" inclusive;
 * a "to" without a "from" reports the 30 days before it (the API's default span). */
export function historyQuery(f: HistoryFilters): HistoryQuery {
  const out: HistoryQuery = {};
  const from = parseDateInput(f.from);
  if (from) out.from = from.toISOString();
  const to = parseDateInput(f.to);
  if (to) out.to = new Date(to.getFullYear(), to.getMonth(), to.getDate() + 1).toISOString();
  if (f.channel !== "all") out.channel = f.channel;
  if (f.direction !== "all") out.direction = f.direction;
  if (f.status !== "all") out.status = f.status;
  if (f.employee.trim()) out.employee = f.employee.trim();
  if (f.number.trim()) out.number = f.number.trim();
  if (f.q.trim()) out.q = f.q.trim();
  return out;
}

/** The query as a URL query string (no leading "?"), keys in a stable order. */
export function historySearch(query: HistoryQuery): string {
  const params = new URLSearchParams();
  for (const key of ["from", "to", "channel", "direction", "status", "employee", "number", "q"] as const) {
    const v = query[key];
    if (v !== undefined && v !== "") params.append(key, v);
  }
  return params.toString();
}

/** URL of the CSV or XLSX export of the filtered history. */
export function historyExportUrl(kind: "csv" | "xlsx", query: HistoryQuery): string {
  const qs = historySearch(query);
  return `/api/v1/messages/history.${kind}${qs ? `?${qs}` : ""}`;
}

/** Money in minor units (kopecks / cents) as "12.34" (a decimal comma in Russian). */
export function formatMinor(minor: number | null | undefined, lang: "ru" | "en"): string {
  if (minor == null) return "—";
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(Math.trunc(minor));
  const text = `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
  return lang === "ru" ? text.replace(".", ",") : text;
}

/** 0.9312 → "93.1 %" */
export function formatRate(rate: number, lang: "ru" | "en"): string {
  const text = (Math.round(rate * 1000) / 10).toFixed(1);
  return `${lang === "ru" ? text.replace(".", ",") : text} %`;
}

/** The notification's link: a failed SMS opens its conversation, an order the office queue,
 * a temporary number's expiry the customer's numbers. */
export function notificationLink(n: { kind: string; data: Record<string, unknown> }): string | null {
  if (n.kind === "store.requested") return "/office";
  if (n.kind === "number.expiring" || n.kind === "number.expired") return "/numbers";
  if (n.kind === "voicemail.received") return "/voicemail";
  if (n.kind === "contact.birthday") return "/contacts";
  if (n.kind !== "message.failed") return null;
  const id = n.data["conversation_id"];
  return typeof id === "number" || typeof id === "string" ? `/messages?c=${id}` : "/messages";
}
