/** Pure helpers of the store, office and notification pages (unit-tested). */
import type { Key, Lang } from "./i18n-dict";

type T = (key: Key, vars?: Record<string, string | number>) => string;

/** Integer minor units (kopecks, cents) as money: 150000 RUB -> "1 500 ₽" / "RUB 1,500". */
export function formatMoney(minor: number, currency: string, lang: Lang): string {
  const value = minor / 100;
  try {
    return new Intl.NumberFormat(lang === "ru" ? "ru-RU" : "en-GB", {
      style: "currency",
      currency,
      minimumFractionDigits: Number.isInteger(value) ? 0 : 2,
      maximumFractionDigits: 2,
    }).format(value);
  } catch {
    return `${value.toFixed(2)} ${currency}`;
  }
}

export const REQUEST_KINDS = [
  "number",
  "temporary_number",
  "sms_package",
  "tariff",
  "call_package",
] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

export function kindLabel(kind: string, t: T): string {
  return (REQUEST_KINDS as readonly string[]).includes(kind)
    ? t(`store.kind.${kind}` as Key)
    : kind;
}

export function stateColor(state: string): string {
  return (
    { pending: "yellow", approved: "green", rejected: "red", cancelled: "gray" }[state] ?? "gray"
  );
}

/** What a request is about: the number, or the package's name. */
export function requestSubject(r: {
  kind: string;
  number_e164?: string | null;
  details: Record<string, unknown>;
}): string {
  if (r.number_e164) return r.number_e164;
  const name = r.details["package"] ?? r.details["name"] ?? r.details["tariff"];
  return typeof name === "string" ? name : "";
}

/** The header badge: nothing for 0, the count up to 99, then "99+". */
export function unreadBadge(n: number): string | null {
  if (n <= 0) return null;
  return n > 99 ? "99+" : String(n);
}

/** 05/03/2027 — dates as the cabinet writes them (dd/mm/yyyy, the viewer's time zone). */
function ddmmyyyy(d: Date): string {
  const pad = (x: number) => String(x).padStart(2, "0");
  return `${pad(d.getDate())}/${pad(d.getMonth() + 1)}/${d.getFullYear()}`;
}

/** A notification in the user's language (the API's English title is the fallback). */
export function notificationText(
  n: { kind: string; title: string; data: Record<string, unknown> },
  t: T,
): string {
  const number = typeof n.data["number"] === "string" ? (n.data["number"] as string) : "";
  const what = kindLabel(String(n.data["request_kind"] ?? ""), t);
  switch (n.kind) {
    case "store.approved":
      return number
        ? t("notif.store.approvedNumber", { number })
        : t("notif.store.approved", { what });
    case "store.rejected":
      return t("notif.store.rejected", { what });
    case "number.expired":
      return t("notif.number.expired", { number });
    case "number.expiring": {
      const at = typeof n.data["expires_at"] === "string" ? new Date(n.data["expires_at"]) : null;
      const date = at && !Number.isNaN(at.getTime()) ? ddmmyyyy(at) : "";
      return t("notif.number.expiring", { number, date });
    }
    case "store.requested": {
      const customer = String(n.data["customer"] ?? "");
      return number
        ? t("notif.store.requestedNumber", { customer, number })
        : t("notif.store.requested", { customer, what });
    }
    case "contact.birthday": {
      const name = String(n.data["name"] ?? "");
      const age = Number(n.data["age"]);
      return Number.isFinite(age) && age > 0
        ? t("notif.contact.birthdayAge", { name, age })
        : t("notif.contact.birthday", { name });
    }
    case "voicemail.received": {
      // the caller's name when the server sends one (data.caller_name), else the number
      const caller = String(n.data["caller_name"] || n.data["caller"] || "") || "?";
      const s = Number(n.data["seconds"]);
      return t("notif.voicemail.received", {
        caller,
        seconds: Number.isFinite(s) ? Math.round(s) : 0,
      });
    }
    default:
      return n.title;
  }
}

/** Store filters as API query parameters (empty ones left out, country upper-cased). */
export function storeQuery(f: {
  country: string;
  city: string;
  type: string | null;
  offset: number;
  limit: number;
}): Record<string, string | number> {
  const q: Record<string, string | number> = { limit: f.limit, offset: f.offset };
  const country = f.country.trim().toUpperCase();
  if (/^[A-Z]{2}$/.test(country)) q.country = country;
  if (f.city.trim()) q.city = f.city.trim();
  if (f.type) q.number_type = f.type;
  return q;
}
