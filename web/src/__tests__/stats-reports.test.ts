import { describe, expect, it } from "vitest";
import { countryName, feeLabel, lineLabel, periodLabel, serviceMinutes, serviceRows, type ServiceReport } from "../lib/stats";

const calls = (c: number, a: number, m: number, min: number) => ({ calls: c, answered: a, missed: m, minutes: min });

const report: ServiceReport = {
  step: "month",
  periods: [
    {
      period: "2026-03-01",
      incoming: calls(2, 1, 1, 1.5),
      outgoing: calls(2, 2, 0, 1.5),
      internal: calls(0, 0, 0, 0),
      calls: 4,
      minutes: 3,
      recordings: 1,
      recording_bytes: 1000,
    },
    {
      period: "2026-04-01",
      incoming: calls(1, 1, 0, 2),
      outgoing: calls(0, 0, 0, 0),
      internal: calls(1, 0, 0, 0),
      calls: 2,
      minutes: 2,
      recordings: 1,
      recording_bytes: 500,
    },
  ],
  totals: {
    period: "2026-03-30",
    incoming: calls(3, 2, 1, 3.5),
    outgoing: calls(2, 2, 0, 1.5),
    internal: calls(1, 0, 0, 0),
    calls: 6,
    minutes: 5,
    recordings: 2,
    recording_bytes: 1500,
  },
  numbers: [],
  recordings_stored: 2,
  recordings_stored_bytes: 1500,
};

describe("statistics reports", () => {
  it("names countries in the page's language, unknown ones plainly", () => {
    expect(countryName("DE", "en", "?")).toBe("Germany (DE)");
    expect(countryName("ru", "ru", "?")).toBe("Россия (RU)");
    expect(countryName("", "en", "Unknown")).toBe("Unknown");
  });

  it("labels lines: trunks by name, numbers as they are, none as unknown", () => {
    expect(lineLabel("trunk:carrier-1", "Trunk", "-")).toBe("Trunk carrier-1");
    expect(lineLabel("+74957000001", "Trunk", "-")).toBe("+74957000001");
    expect(lineLabel("", "Trunk", "No line")).toBe("No line");
  });

  it("formats monthly fees from minor units", () => {
    expect(feeLabel(50000, "RUB", "en").replace(/\s/g, " ")).toBe("RUB 500");
    expect(feeLabel(1999, "EUR", "en")).toBe("€19.99");
  });

  it("labels UTC periods by month or day whatever the browser's zone", () => {
    expect(periodLabel("2026-03-01", "month", "en")).toBe("March 2026");
    expect(periodLabel("2026-03-31", "day", "en")).toBe("31/03/2026");
    expect(periodLabel("2026-04-01", "month", "ru")).toMatch(/^апрель 2026/);
  });

  it("shapes the service report into period rows, a totals row and minute series", () => {
    const { rows, total } = serviceRows(report, "en", "Total");
    expect(rows.map((r) => [r.label, r.calls, r.answered, r.missed, r.minutes])).toEqual([
      ["March 2026", 4, 3, 1, 3],
      ["April 2026", 2, 1, 0, 2],
    ]);
    expect(rows[0]!.at).toBeLessThan(rows[1]!.at);
    expect(rows[1]).toMatchObject({ incoming: 1, internal: 1, recordings: 1, recordingBytes: 500 });
    expect(total).toMatchObject({ label: "Total", isTotal: true, calls: 6, answered: 4, minutes: 5, recordingBytes: 1500 });
    expect(serviceMinutes(report, "en")).toEqual({
      labels: ["March 2026", "April 2026"],
      incoming: [1.5, 2],
      outgoing: [1.5, 0],
      internal: [0, 0],
    });
  });
});
