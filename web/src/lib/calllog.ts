/** The call log's filters and how they map to the API's query parameters. */
import type { Lang } from "./i18n-dict";

export type OutcomeFilter = "all" | "answered" | "missed";
export type DirectionFilter = "all" | "incoming" | "outgoing" | "internal";
export type Outcome = "answered" | "missed" | "busy" | "failed" | "cancelled" | "in_progress";

export interface CallLogFilters {
  /** Dates as typed: dd/mm/yyyy (also dd.mm.yyyy or yyyy-mm-dd); empty for no bound. */
  from: string;
  to: string;
  outcome: OutcomeFilter;
  direction: DirectionFilter;
  employeeId: number | null;
  extension: string;
  q: string;
}

export const NO_FILTERS: CallLogFilters = {
  from: "",
  to: "",
  outcome: "all",
  direction: "all",
  employeeId: null,
  extension: "",
  q: "",
};

/** "Missed" in the call log means the client was not answered, for whatever reason. */
export const MISSED_OUTCOMES: Outcome[] = ["missed", "busy", "failed", "cancelled"];

export interface CallLogQuery {
  from?: string;
  to?: string;
  outcome?: Outcome[];
  direction?: "incoming" | "outgoing" | "internal";
  employee_id?: number;
  extension?: string;
  q?: string;
}

/** A typed date at local midnight, or null when it is not a real date. */
export function parseDateInput(text: string): Date | null {
  const s = text.trim();
  let d: number, m: number, y: number;
  let match = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(s);
  if (match) {
    [d, m, y] = [Number(match[1]), Number(match[2]), Number(match[3])];
  } else if ((match = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s))) {
    [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  } else {
    return null;
  }
  const date = new Date(y, m - 1, d);
  if (date.getFullYear() !== y || date.getMonth() !== m - 1 || date.getDate() !== d) return null;
  return date;
}

/** Whether a date field is fine as typed (empty means no bound). */
export function dateInputOk(text: string): boolean {
  return text.trim() === "" || parseDateInput(text) !== null;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** The date as the field shows it: dd/mm/yyyy (the Russian convention; kept in English too). */
export function formatDateInput(d: Date): string {
  return `${pad(d.getDate())}/${pad(d.getMonth() + 1)}/${d.getFullYear()}`;
}

/** The filters as /api/v1/calls query parameters: dates are local days, "to" inclusive. */
export function callLogQuery(f: CallLogFilters): CallLogQuery {
  const out: CallLogQuery = {};
  const from = parseDateInput(f.from);
  if (from) out.from = from.toISOString();
  const to = parseDateInput(f.to);
  if (to) out.to = new Date(to.getFullYear(), to.getMonth(), to.getDate() + 1).toISOString();
  if (f.outcome === "answered") out.outcome = ["answered"];
  if (f.outcome === "missed") out.outcome = [...MISSED_OUTCOMES];
  if (f.direction !== "all") out.direction = f.direction;
  if (f.employeeId != null) out.employee_id = f.employeeId;
  if (f.extension.trim()) out.extension = f.extension.trim();
  if (f.q.trim()) out.q = f.q.trim();
  return out;
}

/** URL of the CSV or XLSX export of the filtered call log. */
export function exportUrl(kind: "csv" | "xlsx", query: CallLogQuery): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) value.forEach((v) => params.append(key, String(v)));
    else params.append(key, String(value));
  }
  const qs = params.toString();
  return `/api/v1/calls/export.${kind}${qs ? `?${qs}` : ""}`;
}

interface CallParties {
  direction: string;
  caller: string;
  caller_name: string;
  caller_employee_id: number | null;
  callee: string;
  callee_employee_id: number | null;
}

/** The client side of a call (the external party; for internal calls, the callee). */
export function clientOf(c: CallParties): { number: string; name: string } {
  if (c.direction === "incoming") return { number: c.caller, name: c.caller_name };
  return { number: c.callee, name: "" };
}

/** The employee side of a call: who took an incoming call, who made an outgoing one. */
export function employeeOf(c: CallParties): number | null {
  if (c.direction === "incoming") return c.callee_employee_id;
  return c.caller_employee_id ?? c.callee_employee_id;
}

/** "512 B", "1.5 KB", "3.2 MB", "1.1 GB" (Russian units and decimal comma in Russian). */
export function formatBytes(bytes: number, lang: Lang): string {
  const units = lang === "ru" ? ["Б", "КБ", "МБ", "ГБ", "ТБ"] : ["B", "KB", "MB", "GB", "TB"];
  let v = Math.max(0, bytes);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  const text = i === 0 ? String(Math.round(v)) : v.toFixed(v < 10 ? 1 : 0);
  return `${lang === "ru" ? text.replace(".", ",") : text} ${units[i]}`;
}
