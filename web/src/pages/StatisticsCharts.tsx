/** The statistics page's charts and tables (ECharts): loaded lazily by Statistics.tsx so the
 * main bundle does not carry ECharts. */
import { Alert, Anchor, Card, Group, Paper, SegmentedControl, Select, SimpleGrid, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { Link } from "react-router";
import { api, call, type Schemas } from "../api/client";
import { EChart, type ChartOption } from "../components/EChart";
import { SortableTable, type Column } from "../components/SortableTable";
import { ErrorState, LoadingState } from "../components/States";
import { formatDuration } from "../lib/dates";
import { useI18n, type Key } from "../lib/i18n";
import { formatBytes } from "../lib/calllog";
import {
  allowedSteps,
  countryName,
  feeLabel,
  lineLabel,
  percent,
  serviceMinutes,
  serviceRows,
  shapeCalls,
  shapeLoad,
  topBars,
  tzHours,
  type Period,
  type ServiceRow,
  type Step,
} from "../lib/stats";

type Direction = "incoming" | "outgoing" | "internal";
type DirFilter = Direction | "all";
type Totals = Schemas["Totals"];

const COLORS = { answered: "#40c057", missed: "#fa5252", other: "#fab005", line: "#228be6" };

function periodQuery(p: Period, direction: DirFilter = "all") {
  return {
    from: p.from.toISOString(),
    to: p.to.toISOString(),
    direction: direction === "all" ? undefined : direction,
  };
}

function ChartCard({
  title,
  filters,
  children,
  testId,
}: {
  title: string;
  filters?: ReactNode;
  children: ReactNode;
  testId: string;
}) {
  return (
    <Card withBorder padding="md" data-testid={testId}>
      <Group justify="space-between" mb="xs" wrap="wrap">
        <Title order={4}>{title}</Title>
        <Group gap="xs">{filters}</Group>
      </Group>
      {children}
    </Card>
  );
}

function DirectionSelect({ value, onChange }: { value: DirFilter; onChange: (v: DirFilter) => void }) {
  const { t } = useI18n();
  return (
    <Select
      size="xs"
      w={170}
      value={value}
      onChange={(v) => onChange((v ?? "all") as DirFilter)}
      allowDeselect={false}
      aria-label={t("stats.direction")}
      data={[
        { value: "all", label: t("stats.anyDirection") },
        ...(["incoming", "outgoing", "internal"] as const).map((d) => ({ value: d, label: t(`calls.dir.${d}`) })),
      ]}
    />
  );
}

function StepControl({ period, value, onChange }: { period: Period; value: Step; onChange: (s: Step) => void }) {
  const { t } = useI18n();
  const steps = allowedSteps(period);
  return (
    <SegmentedControl
      size="xs"
      value={steps.includes(value) ? value : steps[steps.length - 1]!}
      onChange={(v) => onChange(v as Step)}
      data={steps.map((s) => ({ value: s, label: t(`stats.step.${s}` as Key) }))}
    />
  );
}

function Query<T>({ q, children }: { q: { isPending: boolean; error: unknown; data?: T }; children: (d: T) => ReactNode }) {
  if (q.isPending) return <LoadingState />;
  if (q.error || q.data === undefined) return <ErrorState error={q.error} />;
  return <>{children(q.data)}</>;
}

function totalsColumns(t: (k: Key) => string): Column<Totals>[] {
  return [
    { key: "calls", label: t("stats.calls"), value: (r) => r.calls, numeric: true },
    { key: "answered", label: t("stats.answered"), value: (r) => r.answered, numeric: true },
    { key: "missed", label: t("stats.missed"), value: (r) => r.missed, numeric: true },
    {
      key: "missed_rate",
      label: t("stats.missedRate"),
      value: (r) => r.missed_rate,
      render: (r) => percent(r.missed_rate),
      numeric: true,
    },
    {
      key: "avg_ring",
      label: t("stats.avgRing"),
      value: (r) => r.avg_ring_seconds,
      render: (r) => formatDuration(r.avg_ring_seconds),
      numeric: true,
    },
    {
      key: "avg_talk",
      label: t("stats.avgTalk"),
      value: (r) => r.avg_talk_seconds,
      render: (r) => formatDuration(r.avg_talk_seconds),
      numeric: true,
    },
  ];
}

const grid = { left: 48, right: 24, top: 36, bottom: 56, containLabel: false };

function Summary({ period }: { period: Period }) {
  const { t } = useI18n();
  const q = useQuery({
    queryKey: ["stats", "summary", period],
    queryFn: () => call(api.GET("/api/v1/stats/summary", { params: { query: periodQuery(period) } })),
  });
  return (
    <Query q={q}>
      {(s) => (
        <SimpleGrid cols={{ base: 2, sm: 3, lg: 6 }} data-testid="stats-summary">
          {(
            [
              ["stats.calls", String(s.calls)],
              ["stats.answered", String(s.answered)],
              ["stats.missed", String(s.missed)],
              ["stats.missedRate", percent(s.missed_rate)],
              ["stats.avgRing", formatDuration(s.avg_ring_seconds)],
              ["stats.avgTalk", formatDuration(s.avg_talk_seconds)],
            ] as [Key, string][]
          ).map(([k, v]) => (
            <Paper key={k} withBorder p="sm">
              <Text size="xs" c="dimmed">
                {t(k)}
              </Text>
              <Text fw={700} size="xl">
                {v}
              </Text>
            </Paper>
          ))}
        </SimpleGrid>
      )}
    </Query>
  );
}

function CallsCharts({ period }: { period: Period }) {
  const { t, lang } = useI18n();
  const [direction, setDirection] = useState<DirFilter>("all");
  const steps = allowedSteps(period);
  const [wanted, setStep] = useState<Step>("hour");
  const step: Step = steps.includes(wanted) && wanted !== "minute" ? wanted : "day";
  const q = useQuery({
    queryKey: ["stats", "calls", period, direction, step],
    queryFn: () =>
      call(
        api.GET("/api/v1/stats/calls", {
          params: { query: { ...periodQuery(period, direction), step: step as "hour" | "day", tz_hours: tzHours(period.from) } },
        }),
      ),
  });
  const [rateDirection, setRateDirection] = useState<DirFilter>("all");
  const daily = useQuery({
    queryKey: ["stats", "calls", period, rateDirection, "day"],
    queryFn: () =>
      call(
        api.GET("/api/v1/stats/calls", {
          params: { query: { ...periodQuery(period, rateDirection), step: "day", tz_hours: tzHours(period.from) } },
        }),
      ),
  });
  type Row = ReturnType<typeof shapeCalls>["rows"][number];
  const columns: Column<Row>[] = [
    { key: "when", label: t("stats.when"), value: (r) => r.at, render: (r) => r.label },
    ...(totalsColumns(t) as Column<Row>[]),
  ];
  return (
    <>
      <ChartCard
        title={step === "hour" ? t("stats.perHour") : t("stats.perDay")}
        testId="chart-calls"
        filters={
          <>
            <DirectionSelect value={direction} onChange={setDirection} />
            <SegmentedControl
              size="xs"
              value={step}
              onChange={(v) => setStep(v as Step)}
              data={steps
                .filter((s) => s !== "minute")
                .map((s) => ({ value: s, label: t(`stats.step.${s}` as Key) }))}
            />
          </>
        }
      >
        <Query q={q}>
          {(points) => {
            const shape = shapeCalls(points, period, step, lang);
            const option: ChartOption = {
              tooltip: { trigger: "axis" },
              legend: { top: 0 },
              grid,
              xAxis: { type: "category", data: shape.labels },
              yAxis: { type: "value", minInterval: 1 },
              dataZoom: shape.labels.length > 60 ? [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }] : [],
              series: [
                { name: t("stats.answered"), type: "bar", stack: "c", data: shape.answered, color: COLORS.answered },
                { name: t("stats.missed"), type: "bar", stack: "c", data: shape.missed, color: COLORS.missed },
                { name: t("stats.other"), type: "bar", stack: "c", data: shape.other, color: COLORS.other },
              ],
            };
            return (
              <>
                <EChart option={option} />
                <SortableTable rows={shape.rows} columns={columns} rowKey={(r) => r.at} initialSort={{ key: "when", desc: false }} testId="table-calls" empty={t("stats.noData")} />
              </>
            );
          }}
        </Query>
      </ChartCard>
      <ChartCard
        title={`${t("stats.missedRate")} · ${t("stats.avgRing")} · ${t("stats.avgTalk")}`}
        testId="chart-rate"
        filters={<DirectionSelect value={rateDirection} onChange={setRateDirection} />}
      >
        <Query q={daily}>
          {(points) => {
            const shape = shapeCalls(points, period, "day", lang);
            const option: ChartOption = {
              tooltip: { trigger: "axis" },
              legend: { top: 0 },
              grid: { ...grid, right: 56 },
              xAxis: { type: "category", data: shape.labels },
              yAxis: [
                { type: "value", name: "%", max: 100 },
                { type: "value", name: "s" },
              ],
              series: [
                { name: t("stats.missedRate"), type: "line", data: shape.missedRate, color: COLORS.missed, smooth: true },
                { name: t("stats.avgRing"), type: "line", yAxisIndex: 1, data: shape.avgRing, color: COLORS.other, smooth: true },
                { name: t("stats.avgTalk"), type: "line", yAxisIndex: 1, data: shape.avgTalk, color: COLORS.line, smooth: true },
              ],
            };
            return (
              <>
                <EChart option={option} />
                <SortableTable rows={shape.rows} columns={columns} rowKey={(r) => r.at} initialSort={{ key: "when", desc: false }} testId="table-rate" empty={t("stats.noData")} />
              </>
            );
          }}
        </Query>
      </ChartCard>
    </>
  );
}

function LoadChart({ period }: { period: Period }) {
  const { t, lang } = useI18n();
  const steps = allowedSteps(period);
  const [wanted, setStep] = useState<Step>("hour");
  const step = steps.includes(wanted) ? wanted : steps[steps.length - 1]!;
  const q = useQuery({
    queryKey: ["stats", "load", period, step],
    queryFn: () => call(api.GET("/api/v1/stats/load", { params: { query: { ...periodQuery(period), step } } })),
  });
  return (
    <ChartCard title={t("stats.load")} testId="chart-load" filters={<StepControl period={period} value={step} onChange={setStep} />}>
      <Query q={q}>
        {(points) => {
          const shape = shapeLoad(points, period, step, lang);
          const rows = points.map((p) => ({ ...p, at: new Date(p.bucket).getTime() }));
          const option: ChartOption = {
            tooltip: { trigger: "axis" },
            grid,
            xAxis: { type: "category", data: shape.labels },
            yAxis: { type: "value", minInterval: 1 },
            dataZoom: shape.labels.length > 60 ? [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }] : [],
            series: [{ name: t("stats.maxConcurrent"), type: "line", step: "end", areaStyle: {}, data: shape.values, color: COLORS.line }],
          };
          const columns: Column<(typeof rows)[number]>[] = [
            { key: "when", label: t("stats.when"), value: (r) => r.at, render: (r) => new Date(r.at).toLocaleString(lang === "ru" ? "ru-RU" : "en-GB") },
            { key: "max", label: t("stats.maxConcurrent"), value: (r) => r.max_concurrent, numeric: true },
          ];
          return (
            <>
              <EChart option={option} />
              <SortableTable rows={rows} columns={columns} rowKey={(r) => r.at} initialSort={{ key: "max", desc: true }} testId="table-load" empty={t("stats.noData")} />
            </>
          );
        }}
      </Query>
    </ChartCard>
  );
}

function DirectionsChart({ period }: { period: Period }) {
  const { t } = useI18n();
  const q = useQuery({
    queryKey: ["stats", "directions", period],
    queryFn: () => call(api.GET("/api/v1/stats/directions", { params: { query: periodQuery(period) } })),
  });
  type Row = Schemas["DirectionRow"];
  const columns: Column<Row>[] = [
    { key: "direction", label: t("stats.direction"), value: (r) => t(`calls.dir.${r.direction}` as Key) },
    ...(totalsColumns(t) as Column<Row>[]),
  ];
  return (
    <ChartCard title={t("stats.byDirection")} testId="chart-directions">
      <Query q={q}>
        {(rows) => (
          <>
            <EChart
              height={240}
              option={{
                tooltip: { trigger: "item" },
                legend: { top: 0 },
                series: [
                  {
                    type: "pie",
                    radius: ["35%", "65%"],
                    top: 24,
                    data: rows.map((r) => ({ name: t(`calls.dir.${r.direction}` as Key), value: r.calls })),
                  },
                ],
              }}
            />
            <SortableTable rows={rows} columns={columns} rowKey={(r) => r.direction} initialSort={{ key: "calls", desc: true }} testId="table-directions" empty={t("stats.noData")} />
          </>
        )}
      </Query>
    </ChartCard>
  );
}

function barsOption<T extends Totals>(rows: T[], label: (r: T) => string, t: (k: Key) => string): ChartOption {
  const top = topBars(rows, label, (r) => r.calls);
  const byLabel = new Map(rows.map((r) => [label(r), r]));
  const pick = (f: (r: T) => number) => top.labels.map((l) => f(byLabel.get(l)!));
  return {
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0 },
    grid: { left: 8, right: 24, top: 36, bottom: 8, containLabel: true },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: top.labels },
    series: [
      { name: t("stats.answered"), type: "bar", stack: "c", data: pick((r) => r.answered), color: COLORS.answered },
      { name: t("stats.missed"), type: "bar", stack: "c", data: pick((r) => r.missed), color: COLORS.missed },
      { name: t("stats.other"), type: "bar", stack: "c", data: pick((r) => r.calls - r.answered - r.missed), color: COLORS.other },
    ],
  };
}

function EmployeesChart({ period }: { period: Period }) {
  const { t } = useI18n();
  const [direction, setDirection] = useState<DirFilter>("all");
  const q = useQuery({
    queryKey: ["stats", "employees", period, direction],
    queryFn: () => call(api.GET("/api/v1/stats/employees", { params: { query: periodQuery(period, direction) } })),
  });
  type Row = Schemas["EmployeeRow"];
  const label = (r: Row) => (r.extension ? `${r.name} (${r.extension})` : r.name);
  const columns: Column<Row>[] = [
    { key: "name", label: t("stats.name"), value: label },
    ...(totalsColumns(t) as Column<Row>[]),
    { key: "talk", label: t("stats.talkTotal"), value: (r) => r.talk_seconds, render: (r) => formatDuration(r.talk_seconds), numeric: true },
  ];
  return (
    <ChartCard title={t("stats.byEmployee")} testId="chart-employees" filters={<DirectionSelect value={direction} onChange={setDirection} />}>
      <Query q={q}>
        {(rows) => (
          <>
            <EChart option={barsOption(rows, label, t)} height={Math.max(200, Math.min(rows.length, 15) * 28 + 60)} />
            <SortableTable rows={rows} columns={columns} rowKey={(r) => r.employee_id} initialSort={{ key: "calls", desc: true }} testId="table-employees" empty={t("stats.noData")} />
          </>
        )}
      </Query>
    </ChartCard>
  );
}

function DepartmentsChart({ period }: { period: Period }) {
  const { t } = useI18n();
  const [direction, setDirection] = useState<DirFilter>("all");
  const q = useQuery({
    queryKey: ["stats", "departments", period, direction],
    queryFn: () => call(api.GET("/api/v1/stats/departments", { params: { query: periodQuery(period, direction) } })),
  });
  type Row = Schemas["DepartmentRow"];
  const label = (r: Row) => r.name || t("stats.noDepartment");
  const columns: Column<Row>[] = [
    { key: "name", label: t("stats.name"), value: label },
    ...(totalsColumns(t) as Column<Row>[]),
    { key: "talk", label: t("stats.talkTotal"), value: (r) => r.talk_seconds, render: (r) => formatDuration(r.talk_seconds), numeric: true },
  ];
  return (
    <ChartCard title={t("stats.byDepartment")} testId="chart-departments" filters={<DirectionSelect value={direction} onChange={setDirection} />}>
      <Query q={q}>
        {(rows) => (
          <>
            <EChart option={barsOption(rows, label, t)} height={Math.max(200, Math.min(rows.length, 15) * 28 + 60)} />
            <SortableTable rows={rows} columns={columns} rowKey={(r) => r.department_id ?? 0} initialSort={{ key: "calls", desc: true }} testId="table-departments" empty={t("stats.noData")} />
          </>
        )}
      </Query>
    </ChartCard>
  );
}

function TopNumbersChart({ period }: { period: Period }) {
  const { t } = useI18n();
  const [limit, setLimit] = useState("10");
  const q = useQuery({
    queryKey: ["stats", "top", period, limit],
    queryFn: () =>
      call(api.GET("/api/v1/stats/top-numbers", { params: { query: { ...periodQuery(period), limit: Number(limit) } } })),
  });
  type Row = Schemas["NumberRow"];
  const columns: Column<Row>[] = [
    { key: "number", label: t("stats.number"), value: (r) => r.number },
    { key: "calls", label: t("stats.calls"), value: (r) => r.calls, numeric: true },
    { key: "answered", label: t("stats.answered"), value: (r) => r.answered, numeric: true },
    { key: "talk", label: t("stats.talkTotal"), value: (r) => r.talk_seconds, render: (r) => formatDuration(r.talk_seconds), numeric: true },
  ];
  return (
    <ChartCard
      title={t("stats.topNumbers")}
      testId="chart-top"
      filters={
        <SegmentedControl
          size="xs"
          value={limit}
          onChange={setLimit}
          data={["10", "20", "50"].map((n) => ({ value: n, label: t("stats.top", { n }) }))}
        />
      }
    >
      <Query q={q}>
        {(rows) => {
          const top = topBars(rows, (r) => r.number, (r) => r.calls, Number(limit));
          if (rows.length === 0) {
            return (
              <Text c="dimmed" size="sm" ta="center" py="xl" data-testid="top-empty">
                {t("stats.noData")}
              </Text>
            );
          }
          return (
            <>
              <EChart
                height={Math.max(200, top.labels.length * 24 + 40)}
                option={{
                  tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
                  grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
                  xAxis: { type: "value", minInterval: 1 },
                  yAxis: { type: "category", data: top.labels },
                  series: [{ name: t("stats.calls"), type: "bar", data: top.values, color: COLORS.line }],
                }}
              />
              <SortableTable rows={rows} columns={columns} rowKey={(r) => r.number} initialSort={{ key: "calls", desc: true }} testId="table-top" empty={t("stats.noData")} />
            </>
          );
        }}
      </Query>
    </ChartCard>
  );
}

function DimensionChart({
  period,
  kind,
}: {
  period: Period;
  kind: "countries" | "lines";
}) {
  const { t, lang } = useI18n();
  const [direction, setDirection] = useState<DirFilter>("all");
  type Row = Totals & { key: string };
  const q = useQuery({
    queryKey: ["stats", kind, period, direction],
    queryFn: async (): Promise<Row[]> => {
      const query = { params: { query: periodQuery(period, direction) } };
      if (kind === "countries") {
        return (await call(api.GET("/api/v1/stats/countries", query))).map((r) => ({ ...r, key: r.country }));
      }
      return (await call(api.GET("/api/v1/stats/lines", query))).map((r) => ({ ...r, key: r.line }));
    },
  });
  const label = (r: Row) =>
    kind === "countries"
      ? countryName(r.key, lang, t("stats.unknownCountry"))
      : lineLabel(r.key, t("stats.trunk"), t("stats.unknownLine"));
  const columns: Column<Row>[] = [
    { key: "name", label: kind === "countries" ? t("stats.country") : t("stats.line"), value: label },
    ...(totalsColumns(t) as Column<Row>[]),
    { key: "talk", label: t("stats.talkTotal"), value: (r) => r.talk_seconds, render: (r) => formatDuration(r.talk_seconds), numeric: true },
  ];
  const testId = kind === "countries" ? "countries" : "lines";
  return (
    <ChartCard
      title={kind === "countries" ? t("stats.byCountry") : t("stats.byLine")}
      testId={`chart-${testId}`}
      filters={<DirectionSelect value={direction} onChange={setDirection} />}
    >
      <Query q={q}>
        {(rows) => {
          return (
            <>
              <EChart option={barsOption(rows, label, t)} height={Math.max(200, Math.min(rows.length, 15) * 28 + 60)} />
              <SortableTable rows={rows} columns={columns} rowKey={(r) => r.key} initialSort={{ key: "calls", desc: true }} testId={`table-${testId}`} empty={t("stats.noData")} />
            </>
          );
        }}
      </Query>
    </ChartCard>
  );
}

function ServiceReportCard({ period }: { period: Period }) {
  const { t, lang } = useI18n();
  const long = period.to.getTime() - period.from.getTime() > 92 * 24 * 3600_000;
  const [wanted, setStep] = useState<"day" | "month">("month");
  const step = long ? "month" : wanted;
  const q = useQuery({
    queryKey: ["stats", "service", period, step],
    queryFn: () => call(api.GET("/api/v1/stats/service-report", { params: { query: { ...periodQuery(period), step } } })),
  });
  const mins = (v: number) => `${v.toLocaleString(lang === "ru" ? "ru-RU" : "en-GB")} ${t("stats.min")}`;
  const columns: Column<ServiceRow>[] = [
    { key: "when", label: t("stats.when"), value: (r) => r.at, render: (r) => r.label },
    { key: "incoming", label: t("calls.dir.incoming" as Key), value: (r) => r.incoming, numeric: true },
    { key: "incomingMinutes", label: `${t("calls.dir.incoming" as Key)}, ${t("stats.min")}`, value: (r) => r.incomingMinutes, numeric: true },
    { key: "outgoing", label: t("calls.dir.outgoing" as Key), value: (r) => r.outgoing, numeric: true },
    { key: "outgoingMinutes", label: `${t("calls.dir.outgoing" as Key)}, ${t("stats.min")}`, value: (r) => r.outgoingMinutes, numeric: true },
    { key: "internal", label: t("calls.dir.internal" as Key), value: (r) => r.internal, numeric: true },
    { key: "missed", label: t("stats.missed"), value: (r) => r.missed, numeric: true },
    { key: "minutes", label: t("stats.minutesTotal"), value: (r) => r.minutes, render: (r) => mins(r.minutes), numeric: true },
    { key: "recordings", label: t("stats.recordings"), value: (r) => r.recordings, numeric: true },
    { key: "recordingBytes", label: t("stats.recordingSize"), value: (r) => r.recordingBytes, render: (r) => formatBytes(r.recordingBytes, lang), numeric: true },
  ];
  return (
    <ChartCard
      title={t("stats.serviceReport")}
      testId="chart-service"
      filters={
        <SegmentedControl
          size="xs"
          value={step}
          onChange={(v) => setStep(v as "day" | "month")}
          data={[
            { value: "month", label: t("stats.step.month"), disabled: false },
            { value: "day", label: t("stats.step.day"), disabled: long },
          ]}
        />
      }
    >
      <Query q={q}>
        {(report) => {
          const { rows, total } = serviceRows(report, lang, t("stats.total"));
          const m = serviceMinutes(report, lang);
          return (
            <>
              <SimpleGrid cols={{ base: 2, sm: 4 }} mb="sm" data-testid="service-totals">
                {(
                  [
                    ["stats.calls", String(total.calls)],
                    ["stats.minutesTotal", mins(total.minutes)],
                    ["stats.recordings", String(total.recordings)],
                    ["stats.recordingsKept", `${report.recordings_stored} · ${formatBytes(report.recordings_stored_bytes, lang)}`],
                  ] as [Key, string][]
                ).map(([k, v]) => (
                  <Paper key={k} withBorder p="sm">
                    <Text size="xs" c="dimmed">
                      {t(k)}
                    </Text>
                    <Text fw={700}>{v}</Text>
                  </Paper>
                ))}
              </SimpleGrid>
              {rows.length > 0 && (
                <EChart
                  height={220}
                  option={{
                    tooltip: { trigger: "axis" },
                    legend: { top: 0 },
                    grid,
                    xAxis: { type: "category", data: m.labels },
                    yAxis: { type: "value", name: t("stats.min") },
                    series: (["incoming", "outgoing", "internal"] as const).map((d) => ({
                      name: t(`calls.dir.${d}` as Key),
                      type: "bar",
                      stack: "m",
                      data: m[d],
                    })),
                  }}
                />
              )}
              <SortableTable rows={rows} columns={columns} rowKey={(r) => r.key} initialSort={{ key: "when", desc: false }} testId="table-service" empty={t("stats.noData")} />
              <Title order={5} mt="md">
                {t("stats.numbersHeld")}
              </Title>
              {report.numbers.length === 0 ? (
                <Text c="dimmed" size="sm" data-testid="service-numbers-empty">
                  {t("stats.noNumbers")}
                </Text>
              ) : (
                <Table data-testid="service-numbers" fz="sm">
                  <Table.Tbody>
                    {report.numbers.map((n) => (
                      <Table.Tr key={`${n.number_type}-${n.currency}`}>
                        <Table.Td>{n.number_type}</Table.Td>
                        <Table.Td ta="right">{n.count}</Table.Td>
                        <Table.Td ta="right">{t("stats.perMonth", { fee: feeLabel(n.monthly_fee, n.currency, lang) })}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              )}
              <Alert color="gray" mt="md" data-testid="messages-report-link">
                <Anchor component={Link} to="/reports/messages">
                  {t("stats.messagesReport")}
                </Anchor>
              </Alert>
            </>
          );
        }}
      </Query>
    </ChartCard>
  );
}

/** Everything under the period picker. */
export default function StatisticsCharts({ period }: { period: Period }) {
  return (
    <>
      <Summary period={period} />
      <CallsCharts period={period} />
      <LoadChart period={period} />
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <DirectionsChart period={period} />
        <TopNumbersChart period={period} />
      </SimpleGrid>
      <EmployeesChart period={period} />
      <DepartmentsChart period={period} />
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <DimensionChart period={period} kind="countries" />
        <DimensionChart period={period} kind="lines" />
      </SimpleGrid>
      <ServiceReportCard period={period} />
    </>
  );
}
