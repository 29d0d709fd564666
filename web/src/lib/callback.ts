/**
 * Click-to-call helpers: which number "Call back" dials, what its refusals say, and the
 * website widget's snippet and form values (pure functions; the UI is in pages/ and
 * lib/callbackApi.ts).
 */
import { ApiError, errorMessage } from "./errors";
import type { Key } from "./i18n-dict";

interface CallParties {
  direction: string;
  caller: string;
  caller_employee_id: number | null;
  callee: string;
  callee_employee_id: number | null;
}

/** Something ClickPhone can dial: a phone number or an extension (digits, +, spaces, -, ()). */
export function dialable(number: string | null | undefined): boolean {
  const text = (number ?? "").trim();
  return /^\+?[\d\s().-]+$/.test(text) && text.replace(/\D/g, "").length >= 2;
}

/**
 * The number a call-log record calls back: the caller of an incoming call, the callee of an
 * outgoing one; of an internal call, the other party than the signed-in employee (the caller
 * when they were neither). Null when there is nothing to dial (anonymous, empty).
 */
export function callBackNumber(c: CallParties, myEmployeeId: number | null = null): string | null {
  let number: string;
  if (c.direction === "incoming") number = c.caller;
  else if (c.direction === "outgoing") number = c.callee;
  else if (myEmployeeId != null && c.caller_employee_id === myEmployeeId) number = c.callee;
  else number = c.caller;
  return dialable(number) ? number.trim() : null;
}

/** The notification title for a failed call-back; the server's own message goes under it. */
export function callbackErrorKey(err: unknown): Key {
  if (!(err instanceof ApiError)) return "callback.failed";
  if (err.status === 503) return "callback.unavailable";
  if (err.status === 429) return "callback.limited";
  if (err.status === 422) return "callback.badNumber";
  if (err.status === 403) return "callback.refused";
  return "callback.failed";
}

/** Minutes until a 429 may be retried (from the error's details), at least 1; null if unknown. */
export function retryMinutes(err: unknown): number | null {
  if (!(err instanceof ApiError) || err.status !== 429) return null;
  const seconds = Number(err.details?.retry_after);
  if (!Number.isFinite(seconds) || seconds <= 0) return null;
  return Math.max(1, Math.ceil(seconds / 60));
}

/** What a failed call-back notification shows: a title key, its variables and the detail. */
export function callbackFailure(err: unknown): {
  title: Key;
  vars: Record<string, number>;
  message: string;
} {
  const title = callbackErrorKey(err);
  const minutes = retryMinutes(err);
  return {
    title: minutes != null ? "callback.limitedFor" : title,
    vars: minutes != null ? { n: minutes } : {},
    message: errorMessage(err),
  };
}

// -- the website widget --------------------------------------------------------------------

const WIDGET_PATH = "/widget/clickphone-callback.js";

const escapeAttr = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The ready-to-paste script tag for a site: the widget from this server with the site's key. */
export function widgetSnippet(serverOrigin: string, siteKey: string, lang: "ru" | "en"): string {
  const base = serverOrigin.replace(/\/+$/, "");
  return (
    `<script src="${escapeAttr(base + WIDGET_PATH)}" ` +
    `data-site-key="${escapeAttr(siteKey)}" data-lang="${lang}" async></script>`
  );
}

/** The widget's test page on this server for a site key. */
export function widgetTestUrl(siteKey: string, lang?: "ru" | "en"): string {
  const params = new URLSearchParams({ key: siteKey });
  if (lang) params.set("lang", lang);
  return `/widget/test.html?${params.toString()}`;
}

/** Allowed origins as typed (one per line, or separated by commas/spaces), without blanks or repeats. */
export function parseOrigins(text: string): string[] {
  const out: string[] = [];
  for (const item of text.split(/[\s,]+/)) {
    const v = item.trim();
    if (v && !out.includes(v)) out.push(v);
  }
  return out;
}

/** Who a site rings first, as one select value: "employee:12" or "department:3". */
export type TargetValue = `employee:${number}` | `department:${number}`;

export function targetValue(site: {
  employee_id?: number | null;
  department_id?: number | null;
}): TargetValue | null {
  if (site.employee_id != null) return `employee:${site.employee_id}`;
  if (site.department_id != null) return `department:${site.department_id}`;
  return null;
}

/** The API fields for a select value (exactly one of them set); nulls when nothing is chosen. */
export function targetFields(value: string | null): {
  employee_id: number | null;
  department_id: number | null;
} {
  const m = /^(employee|department):(\d+)$/.exec(value ?? "");
  if (!m) return { employee_id: null, department_id: null };
  const id = Number(m[2]);
  return m[1] === "employee"
    ? { employee_id: id, department_id: null }
    : { employee_id: null, department_id: id };
}
