/** The message-history report's chart per day (ECharts): loaded lazily by MessageHistory.tsx
 * so neither the main bundle nor the report's first paint carries ECharts. */
import { EChart } from "../components/EChart";
import { useI18n } from "../lib/i18n";
import type { HistoryOut } from "../lib/messages";

export default function MessageHistoryChart({ days }: { days: HistoryOut["by_day"] }) {
  const { t, date } = useI18n();
  const labels = days.map((d) => date(`${d.day}T12:00:00`));
  const series = [
    { key: "chat", name: t("hist.chat"), color: "#228be6", data: days.map((d) => d.chat) },
    { key: "sms_outgoing", name: t("hist.smsOut"), color: "#12b886", data: days.map((d) => d.sms_outgoing) },
    { key: "sms_incoming", name: t("hist.smsIn"), color: "#7950f2", data: days.map((d) => d.sms_incoming) },
  ];
  return (
    <EChart
      testId="history-chart"
      height={260}
      option={{
        tooltip: { trigger: "axis" },
        legend: { top: 0 },
        grid: { left: 40, right: 16, top: 36, bottom: 28 },
        xAxis: { type: "category", data: labels },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          ...series.map((s) => ({
            name: s.name,
            type: "bar",
            stack: "messages",
            barMaxWidth: 48,
            itemStyle: { color: s.color },
            data: s.data,
          })),
          {
            name: t("hist.failed"),
            type: "line",
            itemStyle: { color: "#fa5252" },
            data: days.map((d) => d.failed),
          },
        ],
      }}
    />
  );
}
