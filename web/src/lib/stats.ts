/** Statistics: periods, and the API's rows shaped into chart series. */
import type { Schemas } from "../api/client";
import type { Lang } from "./i18n-dict";

export type SeriesPoint = Schemas["SeriesPoint"];
export type LoadPoint = Schemas["LoadPoint"];
export type Step = "minute" | "hour" | "day";

export const HOUR = 3600_000;
export const DAY = 24 * HOUR;

export interface Period {
  from: Date;
  to: Date;
}

/** The last ``days`` local days, today included: [midnight days-1 ago, next midnight). */
export function lastDays(days: number, now: Date = new Date()): Period {
  const to = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  const from = new Date(now.getFullYear(), now.getMonth(), now.getDate() - days + 1);
  return { from, to };
}

/** Hours east of UTC of the browser at a date (what /stats/calls takes as ``tz_hours``). */
export function tzHours(at: Date = new Date()): number {
  return Math.max(-12, Math.min(14, Math.round(-at.getTimezoneOffset() / 60)));
}

/** The finest step the API answers for the span (minutes ≤ 2 days, hours ≤ 31 days). */
export function allowedSteps(p: Period): Step[] {
  const span = p.to.getTime() - p.from.getTime();
  if (span <= 2 * DAY) return ["minute", "hour", "day"];
  if (span <= 31 * DAY) return ["hour", "day"];
  return ["day"];
}

/** Every bucket start of the period (days start at local midnight), for gap-free charts. */
export function buckets(p: Period, step: Step): Date[] {
  const out: Date[] = [];
  if (step === "day") {
    const d = new Date(p.from.getFullYear(), p.from.getMonth(), p.from.getDate());
    for (; d < p.to; d.setDate(d.getDate() + 1)) out.push(new Date(d));
    return out;
  }
  const size = step === "hour" ? HOUR : 60_000;
  const start = Math.floor(p.from.getTime() / size) * size;
  for (let t = start; t < p.to.getTime(); t += size) out.push(new Date(t));
  return out;
}

const pad = (n: number) => String(n).padStart(2, "0");

const EN_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The axis label of a bucket: "05/03" ("5 Mar") per day, "05/03 14:00" per hour, "14:05" per
 * minute. */
export function bucketLabel(d: Date, step: Step, lang: Lang): string {
  const day =
    lang === "ru" ? `${pad(d.getDate())}/${pad(d.getMonth() + 1)}` : `${d.getDate()} ${EN_MONTHS[d.getMonth()]}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (step === "day") return day;
  if (step === "hour") return `${day} ${time}`;
  return time;
}

function keyOf(d: Date, step: Step): string {
  // local calendar day for days (DST-proof), epoch minute otherwise
  if (step === "day") return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
  return String(Math.floor(d.getTime() / 60_000));
}

export interface CallsShape {
  labels: string[];
  answered: number[];
  missed: number[];
  other: number[];
  missedRate: number[];
  avgRing: number[];
  avgTalk: number[];
  rows: (SeriesPoint & { label: string; at: number })[];
}

/** /stats/calls points on every bucket of the period (zero where there were no calls). */
export function shapeCalls(points: SeriesPoint[], p: Period, step: Step, lang: Lang): CallsShape {
  const byKey = new Map(points.map((pt) => [keyOf(new Date(pt.bucket), step), pt]));
  const shape: CallsShape = {
    labels: [],
    answered: [],
    missed: [],
    other: [],
    missedRate: [],
    avgRing: [],
    avgTalk: [],
    rows: [],
  };
  for (const b of buckets(p, step)) {
    const pt = byKey.get(keyOf(b, step));
    const label = bucketLabel(b, step, lang);
    shape.labels.push(label);
    const calls = pt?.calls ?? 0;
    const answered = pt?.answered ?? 0;
    const missed = pt?.missed ?? 0;
    shape.answered.push(answered);
    shape.missed.push(missed);
    shape.other.push(calls - answered - missed);
    shape.missedRate.push(Math.round((pt?.missed_rate ?? 0) * 1000) / 10);
    shape.avgRing.push(pt?.avg_ring_seconds ?? 0);
    shape.avgTalk.push(pt?.avg_talk_seconds ?? 0);
    if (pt) shape.rows.push({ ...pt, label, at: b.getTime() });
  }
  return shape;
}

/** /stats/load points on every bucket (zero concurrent calls where none was recorded). */
export function shapeLoad(points: LoadPoint[], p: Period, step: Step, lang: Lang) {
  const byKey = new Map(points.map((pt) => [keyOf(new Date(pt.bucket), step), pt.max_concurrent]));
  const labels: string[] = [];
  const values: number[] = [];
  for (const b of buckets(p, step)) {
    labels.push(bucketLabel(b, step, lang));
    values.push(byKey.get(keyOf(b, step)) ?? 0);
  }
  return { labels, values };
}

/** The ``limit`` largest rows by ``value`` for a bar chart (the table keeps them all). */
export function topBars<T>(rows: readonly T[], label: (r: T) => string, value: (r: T) => number, limit = 15) {
  const top = [...rows].sort((a, b) => value(b) - value(a)).slice(0, limit).reverse();
  return { labels: top.map(label), values: top.map(value) };
}

/** Percent with one decimal from a 0..1 rate. */
export function percent(rate: number): string {
  return `${(Math.round(rate * 1000) / 10).toString()}%`;
}

export type ServiceReport = Schemas["ServiceReportOut"];
export type ServicePeriod = Schemas["ServicePeriodOut"];

/** A country's name from its ISO code in the page's language ("" → ``unknown``). */
export function countryName(code: string, lang: Lang, unknown: string): string {
  if (!code) return unknown;
  try {
    const names = new Intl.DisplayNames([lang === "ru" ? "ru" : "en"], { type: "region" });
    const name = names.of(code.toUpperCase());
    return name && name !== code.toUpperCase() ? `${name} (${code.toUpperCase()})` : code.toUpperCase();
  } catch {
    return code.toUpperCase();
  }
}

/** A line for display: "trunk:<name>" → "<trunkWord> <name>", a number as is, "" → ``unknown``. */
export function lineLabel(line: string, trunkWord: string, unknown: string): string {
  if (!line) return unknown;
  if (line.startsWith("trunk:")) return `${trunkWord} ${line.slice(6)}`;
  return line;
}

/** The label of a service-report period: "March 2026" / "март 2026 г." per month, the local
 * date per day (periods are UTC calendar days/months given as YYYY-MM-DD). */
export function periodLabel(period: string, step: "day" | "month", lang: Lang): string {
  const [y, m, d] = period.split("-").map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  const locale = lang === "ru" ? "ru-RU" : "en-GB";
  return step === "month"
    ? date.toLocaleDateString(locale, { month: "long", year: "numeric", timeZone: "UTC" })
    : date.toLocaleDateString(locale, { day: "2-digit", month: "2-digit", year: "numeric", timeZone: "UTC" });
}

export interface ServiceRow {
  key: string;
  label: string;
  at: number; // sorts periods in time order; the totals row last
  isTotal: boolean;
  incoming: number;
  incomingMinutes: number;
  outgoing: number;
  outgoingMinutes: number;
  internal: number;
  answered: number;
  missed: number;
  calls: number;
  minutes: number;
  recordings: number;
  recordingBytes: number;
}

function serviceRow(p: ServicePeriod, key: string, label: string, at: number, isTotal: boolean): ServiceRow {
  return {
    key,
    label,
    at,
    isTotal,
    incoming: p.incoming.calls,
    incomingMinutes: p.incoming.minutes,
    outgoing: p.outgoing.calls,
    outgoingMinutes: p.outgoing.minutes,
    internal: p.internal.calls,
    answered: p.incoming.answered + p.outgoing.answered + p.internal.answered,
    missed: p.incoming.missed + p.outgoing.missed + p.internal.missed,
    calls: p.calls,
    minutes: p.minutes,
    recordings: p.recordings,
    recordingBytes: p.recording_bytes,
  };
}

/** The service report as table rows, one per period, and the totals row. */
export function serviceRows(
  report: ServiceReport,
  lang: Lang,
  totalLabel: string,
): { rows: ServiceRow[]; total: ServiceRow } {
  const rows = report.periods.map((p) =>
    serviceRow(p, p.period, periodLabel(p.period, report.step, lang), Date.parse(`${p.period}T00:00:00Z`), false),
  );
  return { rows, total: serviceRow(report.totals, "total", totalLabel, Number.MAX_SAFE_INTEGER, true) };
}

/** Minutes by direction per period for a stacked bar chart of the service report. */
export function serviceMinutes(report: ServiceReport, lang: Lang) {
  return {
    labels: report.periods.map((p) => periodLabel(p.period, report.step, lang)),
    incoming: report.periods.map((p) => p.incoming.minutes),
    outgoing: report.periods.map((p) => p.outgoing.minutes),
    internal: report.periods.map((p) => p.internal.minutes),
  };
}

/** A monthly fee in minor units as money in the page's language. */
export function feeLabel(minor: number, currency: string, lang: Lang): string {
  const value = minor / 100;
  try {
    return new Intl.NumberFormat(lang === "ru" ? "ru-RU" : "en-GB", {
      style: "currency",
      currency,
      maximumFractionDigits: Number.isInteger(value) ? 0 : 2,
    }).format(value);
  } catch {
    return `${value.toFixed(2)} ${currency}`;
  }
}
