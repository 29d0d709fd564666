/** The statistics page: the period picker; the charts (ECharts) load lazily in their own chunk. */
import { Alert, Group, SegmentedControl, Stack, Title } from "@mantine/core";
import { lazy, Suspense, useMemo, useState } from "react";
import { LoadingState } from "../components/States";
import { useI18n } from "../lib/i18n";
import { isAdmin, useMe } from "../lib/session";
import { lastDays } from "../lib/stats";

const StatisticsCharts = lazy(() => import("./StatisticsCharts"));

const PERIODS = [1, 7, 30, 90, 365];

export function StatisticsPage() {
  const { t } = useI18n();
  const me = useMe();
  const [days, setDays] = useState("7");
  // the period is fixed while the page is open (keys stay stable); a new choice recomputes it
  const period = useMemo(() => lastDays(Number(days)), [days]);
  if (me.data && !isAdmin(me.data)) {
    return <Alert color="yellow">{t("stats.adminsOnly")}</Alert>;
  }
  return (
    <Stack>
      <Group justify="space-between" wrap="wrap">
        <Title order={2}>{t("stats.title")}</Title>
        <SegmentedControl
          value={days}
          onChange={setDays}
          aria-label={t("stats.period")}
          data-testid="stats-period"
          data={PERIODS.map((n) => ({ value: String(n), label: n === 1 ? t("stats.today") : t("stats.days", { n }) }))}
        />
      </Group>
      <Suspense fallback={<LoadingState />}>
        <StatisticsCharts period={period} />
      </Suspense>
    </Stack>
  );
}
