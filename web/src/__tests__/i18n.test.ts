import { describe, expect, it } from "vitest";
import { detectLang, en, ru, translate } from "../lib/i18n-dict";
import { formatDate, formatDateTime, formatDuration } from "../lib/dates";

describe("i18n", () => {
  it("has a Russian text for every English key, none left empty", () => {
    expect(Object.keys(ru).sort()).toEqual(Object.keys(en).sort());
    for (const [k, v] of Object.entries(ru)) expect(v, k).not.toBe("");
  });

  it("keeps the same placeholders in both languages", () => {
    const vars = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
    for (const k of Object.keys(en) as (keyof typeof en)[]) {
      expect(vars(ru[k]), k).toEqual(vars(en[k]));
    }
  });

  it("fills placeholders and switches language", () => {
    expect(translate("en", "common.total", { n: 5 })).toBe("Total: 5");
    expect(translate("ru", "common.total", { n: 5 })).toBe("Всего: 5");
    expect(translate("ru", "nav.contacts")).toBe("Контакты");
  });

  it("picks Russian unless stored or the browser says English", () => {
    expect(detectLang(null, "ru-RU")).toBe("ru");
    expect(detectLang(null, undefined)).toBe("ru");
    expect(detectLang(null, "en-US")).toBe("en");
    expect(detectLang("ru", "en-US")).toBe("ru");
    expect(detectLang("xx", "de-DE")).toBe("ru");
  });
});

describe("dates", () => {
  const d = new Date(2025, 0, 5, 9, 7, 3);
  it("formats dd/mm/yyyy in Russian", () => {
    expect(formatDate(d, "ru")).toBe("05/01/2025");
    expect(formatDateTime(d, "ru")).toBe("05/01/2025 09:07");
  });
  it("formats an unambiguous date in English", () => {
    expect(formatDate(d, "en")).toBe("5 Jan 2025");
  });
  it("shows a dash for missing or invalid input", () => {
    expect(formatDate(null, "ru")).toBe("—");
    expect(formatDate("not a date", "en")).toBe("—");
  });
  it("formats durations", () => {
    expect(formatDuration(7)).toBe("0:07");
    expect(formatDuration(187)).toBe("3:07");
    expect(formatDuration(3723)).toBe("1:02:03");
  });
});
