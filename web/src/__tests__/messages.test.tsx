import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Thread } from "../components/messages/Thread";
import { en, ru } from "../lib/i18n-dict";
import { I18nProvider } from "../lib/i18n";
import { staleKeys } from "../lib/live";
import {
  campaignSummary,
  canDelete,
  canManageGroup,
  conversationTitle,
  entryOf,
  groupConversations,
  historyExportUrl,
  historyQuery,
  historySearch,
  formatMinor,
  formatRate,
  matchesSearch,
  NO_HISTORY_FILTERS,
  notificationLink,
  parseNumbers,
  scheduledIso,
  statusMark,
  type Conversation,
  type Message,
} from "../lib/messages";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const T0 = "2026-03-05T10:00:00Z";

function msg(over: Partial<Message> = {}): Message {
  return {
    id: "m1",
    conversation_id: 1,
    channel: "chat",
    direction: "internal",
    sender_user_id: 1,
    external_number: null,
    line: null,
    kind: "text",
    body: "hello",
    attachment: null,
    translit: false,
    status: "sent",
    error: "",
    parts: 1,
    campaign_id: null,
    cost: null,
    scheduled_at: null,
    created_at: T0,
    sent_at: T0,
    delivered_at: null,
    deleted_at: null,
    ...over,
  };
}

function conv(over: Partial<Conversation> = {}): Conversation {
  return {
    id: 1,
    kind: "direct",
    title: "",
    external_number: null,
    line: null,
    contact: null,
    members: [
      { user_id: 1, full_name: "Anna", extension: "101" },
      { user_id: 2, full_name: "Boris", extension: "102" },
    ],
    created_by_user_id: 1,
    last_message: null,
    last_message_at: null,
    unread: 0,
    created_at: T0,
    ...over,
  };
}

describe("conversation list", () => {
  it("names a direct chat after the other member, an SMS thread after its contact", () => {
    expect(conversationTitle(conv(), 1)).toBe("Boris");
    expect(conversationTitle(conv(), 2)).toBe("Anna");
    expect(conversationTitle(conv({ kind: "group", title: "Sales" }), 1)).toBe("Sales");
    const sms = conv({ kind: "sms", external_number: "+79990001122", members: [] });
    expect(conversationTitle(sms, 1)).toBe("+79990001122");
    expect(conversationTitle({ ...sms, contact: { id: 5, name: "Ivan" } }, 1)).toBe("Ivan");
  });

  it("merges the SMS threads of one contact into one partner, most recent first", () => {
    const ivan = { id: 5, name: "Ivan" };
    const list = [
      conv({ id: 1, last_message_at: "2026-03-05T09:00:00Z" }),
      conv({
        id: 2,
        kind: "sms",
        external_number: "+79990000001",
        contact: ivan,
        unread: 2,
        last_message_at: "2026-03-05T08:00:00Z",
        last_message: msg({ id: "a", body: "old", created_at: "2026-03-05T08:00:00Z" }),
      }),
      conv({
        id: 3,
        kind: "sms",
        external_number: "+79990000002",
        contact: ivan,
        unread: 1,
        last_message_at: "2026-03-05T11:00:00Z",
        last_message: msg({ id: "b", body: "new", created_at: "2026-03-05T11:00:00Z" }),
      }),
      conv({ id: 4, kind: "sms", external_number: "+79990000003", last_message_at: "2026-03-05T07:00:00Z" }),
    ];
    const entries = groupConversations(list, 1);
    expect(entries.map((e) => e.key)).toEqual(["contact:5", "conv:1", "conv:4"]);
    const partner = entries[0]!;
    expect(partner.title).toBe("Ivan");
    expect(partner.unread).toBe(3);
    expect(partner.conversations.map((c) => c.id)).toEqual([3, 2]);
    expect(partner.lastMessage?.body).toBe("new");
    expect(partner.contactId).toBe(5);
    expect(entryOf(entries, 2)?.key).toBe("contact:5");
    expect(entryOf(entries, 99)).toBeUndefined();
    // the number of any of the partner's threads finds the partner
    expect(matchesSearch(partner, "0000001")).toBe(true);
    expect(matchesSearch(partner, "ivan")).toBe(true);
    expect(matchesSearch(entries[1]!, "bor")).toBe(true);
    expect(matchesSearch(entries[1]!, "102")).toBe(true);
    expect(matchesSearch(entries[1]!, "zzz")).toBe(false);
    expect(matchesSearch(entries[1]!, "  ")).toBe(true);
  });

  it("knows who deletes what", () => {
    expect(canDelete(msg(), 1)).toBe(true);
    expect(canDelete(msg(), 2)).toBe(false);
    expect(canDelete(msg({ deleted_at: T0 }), 1)).toBe(false);
    const group = conv({ kind: "group", title: "G", created_by_user_id: 1 });
    expect(canManageGroup(group, 1, false)).toBe(true);
    expect(canManageGroup(group, 2, false)).toBe(false);
    expect(canManageGroup(group, 2, true)).toBe(true);
    expect(canManageGroup(conv(), 1, true)).toBe(false);
  });
});

describe("status marks", () => {
  it("maps delivery states to icons", () => {
    expect(statusMark("sent").icon).toBe("check");
    expect(statusMark("delivered").icon).toBe("checks");
    expect(statusMark("failed")).toMatchObject({ icon: "x", color: "red" });
    expect(statusMark("scheduled").icon).toBe("clock");
    expect(statusMark("queued").icon).toBe("hourglass");
    expect(statusMark("sending").icon).toBe("hourglass");
    expect(statusMark("cancelled").icon).toBe("ban");
    expect(statusMark("something new").icon).toBe("hourglass");
  });

  it("has a name for every state in both languages", () => {
    for (const s of ["sent", "delivered", "failed", "scheduled", "queued", "sending", "cancelled", "received"]) {
      const key = statusMark(s).label as keyof typeof en;
      expect(en[key], s).toBeTruthy();
      expect(ru[key], s).toBeTruthy();
    }
  });

  it("sums a mailing's counts", () => {
    expect(campaignSummary({ delivered: 3, failed: 1, queued: 2, scheduled: 1, sent: 1 })).toEqual({
      delivered: 3,
      failed: 1,
      pending: 3,
      total: 8,
    });
    expect(campaignSummary({})).toEqual({ delivered: 0, failed: 0, pending: 0, total: 0 });
  });
});

describe("message history filters", () => {
  it("maps no filters to no parameters", () => {
    expect(historyQuery(NO_HISTORY_FILTERS)).toEqual({});
    expect(historyExportUrl("csv", {})).toBe("/api/v1/messages/history.csv");
  });

  it("maps every filter, dates as local days with an inclusive end", () => {
    const q = historyQuery({
      from: "01/03/2026",
      to: "05/03/2026",
      channel: "sms",
      direction: "outgoing",
      status: "pending",
      employee: " 101 ",
      number: " +7 999 ",
      q: " invoice ",
    });
    expect(q).toEqual({
      from: new Date(2026, 2, 1).toISOString(),
      to: new Date(2026, 2, 6).toISOString(),
      channel: "sms",
      direction: "outgoing",
      status: "pending",
      employee: "101",
      number: "+7 999",
      q: "invoice",
    });
    expect(historyQuery({ ...NO_HISTORY_FILTERS, from: "31/02/2026", channel: "chat" })).toEqual({
      channel: "chat",
    });
  });

  it("builds the query string and the export URLs with the same filters", () => {
    const q = { channel: "chat" as const, q: "a&b", employee: "7" };
    expect(historySearch(q)).toBe("channel=chat&employee=7&q=a%26b");
    expect(historyExportUrl("xlsx", q)).toBe("/api/v1/messages/history.xlsx?channel=chat&employee=7&q=a%26b");
  });

  it("formats money and rates", () => {
    expect(formatMinor(12345, "en")).toBe("123.45");
    expect(formatMinor(5, "ru")).toBe("0,05");
    expect(formatMinor(-250, "en")).toBe("-2.50");
    expect(formatMinor(null, "en")).toBe("—");
    expect(formatRate(0.93125, "en")).toBe("93.1 %");
    expect(formatRate(1, "ru")).toBe("100,0 %");
  });
});

describe("composer helpers", () => {
  it("parses pasted numbers without duplicates", () => {
    expect(parseNumbers("+7 999 111-22-33\n\n+79991112233; +7 (495) 000-00-00, 8800")).toEqual([
      "+7 999 111-22-33",
      "+7 (495) 000-00-00",
      "8800",
    ]);
  });

  it("turns a datetime-local value into an ISO time", () => {
    expect(scheduledIso("")).toBeNull();
    expect(scheduledIso("nonsense")).toBeNull();
    expect(scheduledIso("2026-03-05T10:30")).toBe(new Date(2026, 2, 5, 10, 30).toISOString());
  });

  it("links a failed SMS's notification to its conversation", () => {
    expect(notificationLink({ kind: "message.failed", data: { conversation_id: 7 } })).toBe("/messages?c=7");
    expect(notificationLink({ kind: "store.approved", data: {} })).toBeNull();
  });

  it("refreshes messages and notifications on their live events", () => {
    expect(staleKeys("message.created")).toEqual([["messages"]]);
    expect(staleKeys("message.status")).toEqual([["messages"]]);
    expect(staleKeys("notification.created")).toEqual([["notifications"]]);
  });
});

// -- the thread and its composer, against a stubbed API --------------------------------------

function wrap(children: ReactNode) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <MantineProvider>
      <QueryClientProvider client={qc}>
        <I18nProvider lang="en">
          <MemoryRouter>{children}</MemoryRouter>
        </I18nProvider>
      </QueryClientProvider>
    </MantineProvider>,
  );
}

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

describe("thread", () => {
  it("shows messages with their marks and sends from the composer", async () => {
    const sent: unknown[] = [];
    const fetch = vi.fn(async (req: Request) => {
      const url = new URL(req.url);
      if (url.pathname === "/api/v1/messages/conversations/1/messages" && req.method === "GET") {
        return json([
          msg({ id: "a", body: "hi Boris", status: "delivered" }),
          msg({ id: "b", body: "are you there?", status: "failed", error: "no route" }),
          msg({ id: "c", sender_user_id: 2, body: "yes", created_at: "2026-03-05T10:01:00Z" }),
        ]);
      }
      if (url.pathname === "/api/v1/messages/conversations/1/messages" && req.method === "POST") {
        sent.push(await req.json());
        return json(msg({ id: "d", body: "ok" }), 201);
      }
      if (url.pathname === "/api/v1/employees") return json({ items: [], total: 0, limit: 500, offset: 0 });
      return json({ unread: 0 });
    });
    vi.stubGlobal("fetch", fetch);
    wrap(<Thread conv={conv()} entry={undefined} meId={1} admin={false} onSwitch={() => {}} />);
    const bubbles = await screen.findAllByTestId("message");
    expect(bubbles).toHaveLength(3);
    expect(screen.getByTestId("thread-title").textContent).toBe("Boris");
    const marks = screen.getAllByTestId("message-status").map((el) => el.getAttribute("data-status"));
    // marks on my messages only
    expect(marks).toEqual(["delivered", "failed"]);
    expect(within(bubbles[1]!).getByTestId("message-status").getAttribute("aria-label")).toContain("no route");
    expect(bubbles[2]!.getAttribute("data-mine")).toBe("no");
    // no sender names in a chat of two, no SMS counter outside SMS
    expect(screen.queryByTestId("message-sender")).toBeNull();
    expect(screen.queryByTestId("sms-counter")).toBeNull();

    const box = screen.getByTestId("composer-text");
    fireEvent.change(box, { target: { value: "ok" } });
    fireEvent.keyDown(box, { key: "Enter" });
    await waitFor(() => expect(sent).toHaveLength(1));
    expect(sent[0]).toEqual({ text: "ok", translit: false, scheduled_at: null });
  });

  it("names senders in a group and offers the partner's numbers in SMS", async () => {
    const fetch = vi.fn(async (req: Request) => {
      const url = new URL(req.url);
      if (url.pathname.endsWith("/messages")) {
        return json([msg({ sender_user_id: 2, body: "from Boris" })]);
      }
      if (url.pathname === "/api/v1/employees") return json({ items: [], total: 0, limit: 500, offset: 0 });
      if (url.pathname === "/api/v1/messages/sms/preview") {
        return json({ text: "x", parts: 2, encoding: "ucs2", characters: 80 });
      }
      return json({ unread: 0 });
    });
    vi.stubGlobal("fetch", fetch);
    const group = conv({ kind: "group", title: "Sales" });
    const view = wrap(<Thread conv={group} entry={undefined} meId={1} admin={false} onSwitch={() => {}} />);
    expect((await screen.findByTestId("message-sender")).textContent).toBe("Boris");
    expect(screen.getAllByTestId("group-member")).toHaveLength(2);
    view.unmount();

    const ivan = { id: 5, name: "Ivan" };
    const a = conv({ id: 2, kind: "sms", external_number: "+79990000001", contact: ivan, line: "+74950000000" });
    const b = conv({ id: 3, kind: "sms", external_number: "+79990000002", contact: ivan });
    const [entry] = groupConversations([a, b], 1);
    const onSwitch = vi.fn();
    wrap(<Thread conv={a} entry={entry} meId={1} admin={false} onSwitch={onSwitch} />);
    const numbers = await screen.findByTestId("thread-numbers");
    fireEvent.click(within(numbers).getByText("+79990000002"));
    expect(onSwitch).toHaveBeenCalledWith(3);
    expect(screen.queryByTestId("composer-attach")).toBeNull(); // no files by SMS
    fireEvent.change(screen.getByTestId("composer-text"), { target: { value: "Привет" } });
    expect(await screen.findByTestId("sms-counter", {}, { timeout: 2000 })).toHaveProperty(
      "textContent",
      "80 characters · 2 SMS · UCS-2",
    );
  });
});
