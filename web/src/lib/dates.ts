/** Dates for the cabinet: dd/mm/yyyy in Russian (as the market expects), "5 Jan 2025" in English. */
import type { Lang } from "./i18n-dict";

const EN_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number) => String(n).padStart(2, "0");

function toDate(value: string | Date): Date | null {
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function formatDate(value: string | Date | null | undefined, lang: Lang): string {
  if (!value) return "—";
  const d = toDate(value);
  if (!d) return "—";
  if (lang === "ru") return `${pad(d.getDate())}/${pad(d.getMonth() + 1)}/${d.getFullYear()}`;
  return `${d.getDate()} ${EN_MONTHS[d.getMonth()]} ${d.getFullYear()}`;
}

export function formatTime(value: string | Date | null | undefined): string {
  if (!value) return "—";
  const d = toDate(value);
  if (!d) return "—";
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatDateTime(value: string | Date | null | undefined, lang: Lang): string {
  if (!value) return "—";
  const d = toDate(value);
  if (!d) return "—";
  return `${formatDate(d, lang)} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** "3:07" or "1:02:03" for a duration in seconds. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h ? `${h}:${pad(m)}:${pad(rest)}` : `${m}:${pad(rest)}`;
}
