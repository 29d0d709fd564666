/** Contacts to and from CSV and vCard files, entirely in the browser. */

export interface ContactNumber {
  number: string;
  label: string;
}
export interface ContactData {
  name: string;
  company: string;
  group: string;
  favorite: boolean;
  notes: string;
  numbers: ContactNumber[];
}

export const MAX_NUMBERS = 20;

// ---------------------------------------------------------------------------------- CSV
/** RFC 4180 records; the delimiter is "," or ";" (spreadsheets in Russian locales use ";"). */
export function parseCsvRows(text: string, delimiter?: string): string[][] {
  const src = text.replace(/^\uFEFF/, "");
  const firstLine = src.split(/\r?\n/, 1)[0] ?? "";
  const delim =
    delimiter ?? (firstLine.split(";").length > firstLine.split(",").length ? ";" : ",");
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (quoted) {
      if (ch === '"') {
        if (src[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === "") quoted = true;
    else if (ch === delim) {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && src[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.some((c) => c.trim() !== ""));
}

function csvField(value: string): string {
  return /[",;\r\n]/.test(value) || /^\s|\s$/.test(value)
    ? `"${value.replace(/"/g, '""')}"`
    : value;
}

const HEADERS = {
  name: ["name", "full name", "имя", "фио", "название"],
  company: ["company", "organization", "organisation", "организация", "компания"],
  group: ["group", "группа"],
  favorite: ["favorite", "favourite", "избранное", "избранный"],
  notes: ["notes", "note", "заметки", "примечание"],
};
const TRUE_WORDS = new Set(["1", "yes", "true", "да", "y", "x", "+"]);

/** Contacts as CSV: name, company, group, favorite, notes, then "phone N"/"label N" pairs. */
export function contactsToCsv(contacts: ContactData[]): string {
  const pairs = Math.max(1, ...contacts.map((c) => c.numbers.length));
  const header = ["name", "company", "group", "favorite", "notes"];
  for (let i = 1; i <= pairs; i++) header.push(`phone ${i}`, `label ${i}`);
  const lines = [header.join(",")];
  for (const c of contacts) {
    const cells = [c.name, c.company, c.group, c.favorite ? "yes" : "", c.notes];
    for (let i = 0; i < pairs; i++) {
      cells.push(c.numbers[i]?.number ?? "", c.numbers[i]?.label ?? "");
    }
    lines.push(cells.map(csvField).join(","));
  }
  return lines.join("\r\n") + "\r\n";
}

/** Reads contacts from CSV with a header row; recognises English and Russian column names. */
export function csvToContacts(text: string): ContactData[] {
  const rows = parseCsvRows(text);
  if (rows.length === 0) return [];
  const header = rows[0].map((h) => h.trim().toLowerCase());
  const col = (names: string[]) => header.findIndex((h) => names.includes(h));
  const idx = {
    name: col(HEADERS.name),
    company: col(HEADERS.company),
    group: col(HEADERS.group),
    favorite: col(HEADERS.favorite),
    notes: col(HEADERS.notes),
  };
  // Number columns: "phone", "phone 2", "number", "телефон 3", "номер", "mobile"...; a
  // "label N" column right after names that number.
  const phoneCols: { at: number; labelAt: number; label: string }[] = [];
  header.forEach((h, i) => {
    const m = /^(phone|number|tel|telephone|mobile|work|home|телефон|номер|мобильный)\s*(\d*)$/.exec(h);
    if (!m) return;
    const next = header[i + 1] ?? "";
    const labelAt = /^(label|метка|тип)\s*\d*$/.test(next) ? i + 1 : -1;
    const implied = ["mobile", "work", "home", "мобильный"].includes(m[1]) ? m[1] : "";
    phoneCols.push({ at: i, labelAt, label: implied });
  });
  if (idx.name < 0) idx.name = 0;
  const get = (r: string[], i: number) => (i >= 0 ? (r[i] ?? "").trim() : "");
  const out: ContactData[] = [];
  for (const r of rows.slice(1)) {
    const numbers: ContactNumber[] = [];
    for (const p of phoneCols) {
      for (const part of get(r, p.at).split(/[,;]/)) {
        const number = part.trim();
        if (number) numbers.push({ number, label: get(r, p.labelAt) || p.label });
      }
    }
    const name = get(r, idx.name);
    if (!name && numbers.length === 0) continue;
    out.push({
      name: name || numbers[0].number,
      company: get(r, idx.company),
      group: get(r, idx.group),
      favorite: TRUE_WORDS.has(get(r, idx.favorite).toLowerCase()),
      notes: get(r, idx.notes),
      numbers: numbers.slice(0, MAX_NUMBERS),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------- vCard
function vEscape(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/([,;])/g, "\\$1");
}
function vUnescape(value: string): string {
  return value.replace(/\\([\\,;nN])/g, (_m, c: string) => (c === "n" || c === "N" ? "\n" : c));
}
/** Splits on a separator that is not escaped with a backslash. */
function splitUnescaped(value: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < value.length; i++) {
    if (value[i] === "\\" && i + 1 < value.length) {
      cur += value[i] + value[i + 1];
      i++;
    } else if (value[i] === sep) {
      parts.push(cur);
      cur = "";
    } else cur += value[i];
  }
  parts.push(cur);
  return parts;
}

/** vCard 3.0 (what phones and address books import): FN, N, ORG, TEL, NOTE, CATEGORIES. */
export function contactsToVcard(contacts: ContactData[]): string {
  const lines: string[] = [];
  for (const c of contacts) {
    lines.push("BEGIN:VCARD", "VERSION:3.0", `FN:${vEscape(c.name)}`, `N:${vEscape(c.name)};;;;`);
    if (c.company) lines.push(`ORG:${vEscape(c.company)}`);
    for (const n of c.numbers) {
      const type = n.label ? `;TYPE=${n.label.replace(/[;:,"]/g, " ").trim()}` : "";
      lines.push(`TEL${type}:${n.number}`);
    }
    if (c.group) lines.push(`CATEGORIES:${vEscape(c.group)}`);
    if (c.notes) lines.push(`NOTE:${vEscape(c.notes)}`);
    if (c.favorite) lines.push("X-CLICKPHONE-FAVORITE:1");
    lines.push("END:VCARD");
  }
  return lines.join("\r\n") + "\r\n";
}

/** Reads every card in a .vcf (vCard 2.1/3.0/4.0): folded lines, params, escapes, QP names. */
export function vcardToContacts(text: string): ContactData[] {
  const unfolded = text.replace(/^\uFEFF/, "").replace(/\r?\n[ \t]/g, "");
  const out: ContactData[] = [];
  let cur: (ContactData & { n: string }) | null = null;
  for (const raw of unfolded.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (!line) continue;
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const head = line.slice(0, colon);
    let value = line.slice(colon + 1);
    const [propRaw, ...params] = head.split(";");
    const prop = propRaw.replace(/^item\d+\./i, "").toUpperCase();
    if (prop === "BEGIN" && value.toUpperCase() === "VCARD") {
      cur = { name: "", n: "", company: "", group: "", favorite: false, notes: "", numbers: [] };
      continue;
    }
    if (!cur) continue;
    if (prop === "END") {
      const name = cur.name || cur.n || cur.company || cur.numbers[0]?.number || "";
      if (name) {
        const { n: _n, ...data } = cur;
        void _n;
        out.push({ ...data, name, numbers: data.numbers.slice(0, MAX_NUMBERS) });
      }
      cur = null;
      continue;
    }
    if (params.some((p) => /ENCODING=QUOTED-PRINTABLE/i.test(p))) {
      value = decodeQuotedPrintable(value);
    }
    switch (prop) {
      case "FN":
        cur.name = vUnescape(value).trim();
        break;
      case "N": {
        const [family = "", given = "", middle = ""] = splitUnescaped(value, ";").map(vUnescape);
        cur.n = [given, middle, family].filter(Boolean).join(" ").trim();
        break;
      }
      case "ORG":
        cur.company = splitUnescaped(value, ";").map(vUnescape).filter(Boolean).join(", ");
        break;
      case "TEL": {
        const number = value.replace(/^tel:/i, "").trim();
        if (!number) break;
        const types = params
          .flatMap((p) => {
            const [k, v] = p.includes("=") ? p.split("=", 2) : ["TYPE", p];
            return k.toUpperCase() === "TYPE" ? v.replace(/"/g, "").split(",") : [];
          })
          .map((t) => t.toLowerCase())
          .filter((t) => t && t !== "voice" && t !== "pref");
        cur.numbers.push({ number, label: types.join(" ") });
        break;
      }
      case "NOTE":
        cur.notes = vUnescape(value);
        break;
      case "CATEGORIES":
        cur.group = vUnescape(splitUnescaped(value, ",")[0] ?? "").trim();
        break;
      case "X-CLICKPHONE-FAVORITE":
        cur.favorite = value.trim() === "1";
        break;
    }
  }
  return out;
}

function decodeQuotedPrintable(value: string): string {
  const bytes: number[] = [];
  const s = value.replace(/=$/, "");
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "=" && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(s.charCodeAt(i));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Picks the parser by file name or content. */
export function parseContactsFile(name: string, text: string): ContactData[] {
  if (/\.vcf$|\.vcard$/i.test(name) || /^\uFEFF?BEGIN:VCARD/i.test(text.trimStart())) {
    return vcardToContacts(text);
  }
  return csvToContacts(text);
}
