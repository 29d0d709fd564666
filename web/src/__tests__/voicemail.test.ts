import { describe, expect, it } from "vitest";
import { translate, type Key } from "../lib/i18n-dict";
import { staleKeys } from "../lib/live";
import { notificationLink } from "../lib/messages";
import { notificationText } from "../lib/store";
import {
  callerLabel,
  markedRead,
  voicemailAudioUrl,
  voicemailCallBack,
  voicemailQuery,
  type Voicemail,
  type VoicemailPage,
} from "../lib/voicemail";

const en = (key: Key, vars?: Record<string, string | number>) => translate("en", key, vars);
const ru = (key: Key, vars?: Record<string, string | number>) => translate("ru", key, vars);

function vm(id: string, read_at: string | null = null): Voicemail {
  return {
    id,
    owner_employee_id: null,
    department_id: null,
    caller: "+74951234567",
    caller_name: "",
    callee: "+74950000000",
    seconds: 7.4,
    created_at: "2027-03-05T10:00:00Z",
    read_at,
  };
}

describe("voicemail helpers", () => {
  it("builds the list query: newest first, empty search and filter left out", () => {
    expect(voicemailQuery({ q: "  ", unread: false, offset: 0, limit: 20 })).toEqual({
      sort: "-created_at",
      limit: 20,
      offset: 0,
    });
    expect(voicemailQuery({ q: " Ivan ", unread: true, offset: 40, limit: 20 })).toEqual({
      q: "Ivan",
      unread: true,
      sort: "-created_at",
      limit: 20,
      offset: 40,
    });
    expect(voicemailQuery({ q: "", unread: false, offset: -5, limit: 20 }).offset).toBe(0);
  });

  it("points the player at the audio route", () => {
    expect(voicemailAudioUrl("c-1")).toBe("/api/v1/voicemails/c-1/audio");
    expect(voicemailAudioUrl("a/b")).toBe("/api/v1/voicemails/a%2Fb/audio");
  });

  it("labels the caller by name and number", () => {
    expect(callerLabel({ caller: "+7495", caller_name: "Ivan" })).toBe("Ivan · +7495");
    expect(callerLabel({ caller: "+7495", caller_name: "" })).toBe("+7495");
    expect(callerLabel({ caller: "+7495", caller_name: "+7495" })).toBe("+7495");
    expect(callerLabel({ caller: "", caller_name: " " })).toBeNull();
  });

  it("calls back a dialable caller only", () => {
    expect(voicemailCallBack({ caller: " +7 495 123-45-67 " })).toBe("+7 495 123-45-67");
    expect(voicemailCallBack({ caller: "anonymous" })).toBeNull();
    expect(voicemailCallBack({ caller: "" })).toBeNull();
  });

  it("marks one voicemail read in a cached page, leaving the rest", () => {
    const page: VoicemailPage = {
      items: [vm("a"), vm("b"), vm("c", "2027-03-01T00:00:00Z")],
      total: 3,
      limit: 20,
      offset: 0,
      unread: 2,
    };
    const out = markedRead(page, "a", "2027-03-05T11:00:00Z")!;
    expect(out.items.map((v) => v.read_at)).toEqual([
      "2027-03-05T11:00:00Z",
      null,
      "2027-03-01T00:00:00Z",
    ]);
    expect(out.unread).toBe(1);
    expect(page.items[0]!.read_at).toBeNull(); // not mutated
    // already read, or not on this page: nothing changes
    expect(markedRead(page, "c", "x")!.unread).toBe(2);
    expect(markedRead(page, "zzz", "x")!.items).toEqual(page.items);
    // the server's count wins when given
    expect(markedRead(page, "a", "x", 0)!.unread).toBe(0);
    expect(markedRead(undefined, "a", "x")).toBeUndefined();
  });

  it("words the voicemail notification in both languages and links it to the inbox", () => {
    const n = {
      kind: "voicemail.received",
      title: "Voicemail from +7495 (12 s)",
      data: { voicemail_id: "c-1", caller: "+74951234567", seconds: 12 },
    };
    expect(notificationText(n, en)).toBe("Voicemail from +74951234567 (12 s)");
    expect(notificationText(n, ru)).toBe("Голосовое сообщение от +74951234567 (12 с)");
    expect(notificationText({ ...n, data: { seconds: "bad" } }, en)).toBe("Voicemail from ? (0 s)");
    expect(notificationText({ ...n, data: { ...n.data, caller_name: "Ivan" } }, en)).toBe(
      "Voicemail from Ivan (12 s)",
    );
    expect(notificationLink(n)).toBe("/voicemail");
  });

  it("refreshes the voicemail queries on the live event", () => {
    expect(staleKeys("voicemail.created")).toEqual([["voicemail"]]);
  });

  it("names the nav entry in both languages", () => {
    expect(en("nav.voicemail")).toBe("Voicemail");
    expect(ru("nav.voicemail")).toBe("Голосовая почта");
  });
});
