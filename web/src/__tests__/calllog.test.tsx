import { MantineProvider } from "@mantine/core";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { SortableTable, nextSort, sortRows, type Column } from "../components/SortableTable";
import {
  callLogQuery,
  clientOf,
  employeeOf,
  exportUrl,
  formatBytes,
  MISSED_OUTCOMES,
  NO_FILTERS,
  parseDateInput,
} from "../lib/calllog";
import { formatDuration } from "../lib/dates";
import { I18nProvider } from "../lib/i18n";
import { allowedSteps, buckets, lastDays, shapeCalls, shapeLoad, topBars, type SeriesPoint } from "../lib/stats";

afterEach(cleanup);

describe("call-log filters", () => {
  it("parses dd/mm/yyyy (and yyyy-mm-dd) as local midnight, and rejects impossible dates", () => {
    expect(parseDateInput("05/03/2026")).toEqual(new Date(2026, 2, 5));
    expect(parseDateInput("5.3.2026")).toEqual(new Date(2026, 2, 5));
    expect(parseDateInput("2026-03-05")).toEqual(new Date(2026, 2, 5));
    expect(parseDateInput("31/02/2026")).toBeNull();
    expect(parseDateInput("03/05")).toBeNull();
    expect(parseDateInput("")).toBeNull();
  });

  it("maps no filters to no parameters", () => {
    expect(callLogQuery(NO_FILTERS)).toEqual({});
  });

  it("maps every filter to the API's query parameters", () => {
    const q = callLogQuery({
      from: "01/03/2026",
      to: "05/03/2026",
      outcome: "missed",
      direction: "incoming",
      employeeId: 7,
      extension: " 301 ",
      q: " Ann ",
    });
    expect(q.from).toBe(new Date(2026, 2, 1).toISOString());
    // "to" is inclusive: the end of that local day
    expect(q.to).toBe(new Date(2026, 2, 6).toISOString());
    expect(q.outcome).toEqual(MISSED_OUTCOMES);
    expect(q).toMatchObject({ direction: "incoming", employee_id: 7, extension: "301", q: "Ann" });
    expect(callLogQuery({ ...NO_FILTERS, outcome: "answered", from: "bad" })).toEqual({ outcome: ["answered"] });
  });

  it("builds export URLs with repeated outcome parameters", () => {
    expect(exportUrl("csv", {})).toBe("/api/v1/calls/export.csv");
    const url = exportUrl("xlsx", { outcome: ["missed", "busy"], direction: "outgoing", q: "+7 495" });
    expect(url).toBe("/api/v1/calls/export.xlsx?outcome=missed&outcome=busy&direction=outgoing&q=%2B7+495");
  });

  it("finds the client and the employee of a call", () => {
    const base = { caller_name: "", caller_employee_id: null, callee_employee_id: null };
    const inc = { ...base, direction: "incoming", caller: "+7495", caller_name: "Ann", callee: "300", callee_employee_id: 3 };
    expect(clientOf(inc)).toEqual({ number: "+7495", name: "Ann" });
    expect(employeeOf(inc)).toBe(3);
    const out = { ...base, direction: "outgoing", caller: "300", callee: "+7496", caller_employee_id: 4 };
    expect(clientOf(out)).toEqual({ number: "+7496", name: "" });
    expect(employeeOf(out)).toBe(4);
  });
});

describe("formatting", () => {
  it("formats durations", () => {
    expect(formatDuration(0)).toBe("0:00");
    expect(formatDuration(65.7)).toBe("1:05");
    expect(formatDuration(3723)).toBe("1:02:03");
    expect(formatDuration(-5)).toBe("0:00");
  });

  it("formats sizes in each language", () => {
    expect(formatBytes(512, "en")).toBe("512 B");
    expect(formatBytes(1536, "en")).toBe("1.5 KB");
    expect(formatBytes(1536, "ru")).toBe("1,5 КБ");
    expect(formatBytes(25 * 1024 * 1024, "en")).toBe("25 MB");
  });
});

describe("chart data", () => {
  const p = { from: new Date(2026, 2, 1), to: new Date(2026, 2, 4) };
  const point = (at: Date, calls: number, answered: number, missed: number): SeriesPoint => ({
    bucket: at.toISOString(),
    calls,
    answered,
    missed,
    busy: calls - answered - missed,
    failed: 0,
    cancelled: 0,
    missed_rate: calls ? missed / calls : 0,
    avg_ring_seconds: 4,
    avg_talk_seconds: 30,
    talk_seconds: 30 * answered,
  });

  it("fills the days without calls with zeros", () => {
    const shape = shapeCalls([point(new Date(2026, 2, 2), 5, 3, 1)], p, "day", "ru");
    expect(shape.labels).toEqual(["01/03", "02/03", "03/03"]);
    expect(shape.answered).toEqual([0, 3, 0]);
    expect(shape.missed).toEqual([0, 1, 0]);
    expect(shape.other).toEqual([0, 1, 0]);
    expect(shape.missedRate).toEqual([0, 20, 0]);
    expect(shape.rows).toHaveLength(1);
    expect(shapeCalls([], p, "day", "en").labels[0]).toBe("1 Mar");
  });

  it("buckets hours and minutes, and limits the steps to what the API answers", () => {
    expect(buckets(p, "hour")).toHaveLength(72);
    expect(buckets({ from: p.from, to: new Date(2026, 2, 1, 0, 10) }, "minute")).toHaveLength(10);
    expect(allowedSteps(p)).toEqual(["hour", "day"]);
    expect(allowedSteps(lastDays(1))).toEqual(["minute", "hour", "day"]);
    expect(allowedSteps(lastDays(90))).toEqual(["day"]);
    const load = shapeLoad([{ bucket: new Date(2026, 2, 1, 5).toISOString(), max_concurrent: 4 }], p, "hour", "ru");
    expect(load.values[5]).toBe(4);
    expect(load.values.reduce((a, b) => a + b)).toBe(4);
    expect(load.labels[5]).toBe("01/03 05:00");
  });

  it("keeps the largest rows for bar charts, largest on top", () => {
    const rows = [
      { n: "a", v: 1 },
      { n: "b", v: 9 },
      { n: "c", v: 5 },
    ];
    expect(topBars(rows, (r) => r.n, (r) => r.v, 2)).toEqual({ labels: ["c", "b"], values: [5, 9] });
  });

  it("spans the last days up to the next local midnight", () => {
    const { from, to } = lastDays(7, new Date(2026, 2, 10, 15, 30));
    expect(from).toEqual(new Date(2026, 2, 4));
    expect(to).toEqual(new Date(2026, 2, 11));
  });
});

describe("sortable table", () => {
  type Row = { name: string; calls: number | null };
  const rows: Row[] = [
    { name: "Ben", calls: 3 },
    { name: "ann", calls: null },
    { name: "Cid", calls: 10 },
  ];
  const columns: Column<Row>[] = [
    { key: "name", label: "Name", value: (r) => r.name },
    { key: "calls", label: "Calls", value: (r) => r.calls, numeric: true },
  ];

  it("sorts numbers numerically and text by language order, nulls last", () => {
    expect(sortRows(rows, columns, { key: "calls", desc: false }).map((r) => r.name)).toEqual(["Ben", "Cid", "ann"]);
    expect(sortRows(rows, columns, { key: "calls", desc: true }).map((r) => r.name)).toEqual(["Cid", "Ben", "ann"]);
    expect(sortRows(rows, columns, { key: "name", desc: false }).map((r) => r.name)).toEqual(["ann", "Ben", "Cid"]);
    expect(sortRows(rows, columns, null)).toEqual(rows);
  });

  it("starts numbers descending and flips on a second click", () => {
    expect(nextSort(null, columns[1]!)).toEqual({ key: "calls", desc: true });
    expect(nextSort(null, columns[0]!)).toEqual({ key: "name", desc: false });
    expect(nextSort({ key: "calls", desc: true }, columns[1]!)).toEqual({ key: "calls", desc: false });
  });

  it("re-sorts when a header is clicked", () => {
    render(
      <MantineProvider>
        <I18nProvider lang="en">
          <SortableTable rows={rows} columns={columns} rowKey={(r) => r.name} testId="t" />
        </I18nProvider>
      </MantineProvider>,
    );
    const names = () => screen.getAllByRole("row").slice(1).map((tr) => tr.firstChild?.textContent);
    expect(names()).toEqual(["Ben", "ann", "Cid"]);
    fireEvent.click(screen.getByTestId("t-sort-calls"));
    expect(names()).toEqual(["Cid", "Ben", "ann"]);
    fireEvent.click(screen.getByTestId("t-sort-calls"));
    expect(names()).toEqual(["Ben", "Cid", "ann"]);
    expect(screen.getAllByRole("columnheader")[1]!.getAttribute("aria-sort")).toBe("ascending");
  });
});
