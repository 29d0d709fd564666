/** The message-history report: every chat message and SMS of a period, filtered, counted,
 * charted per day, listed and exported. Employees see their own conversations, administrators
 * the company's (a colleague chat's text only to its members). Loaded lazily (App.tsx). */
import {
  Badge,
  Button,
  Card,
  Group,
  Menu,
  Paper,
  SegmentedControl,
  Select,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  Title,
  Tooltip,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { IconDownload, IconSearch } from "@tabler/icons-react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { lazy, Suspense, useMemo, useState } from "react";
import { SortableTable, type Column } from "../components/SortableTable";
import { EmptyState, ErrorState, LoadingState, Pager } from "../components/States";
import { StatusMark } from "../components/messages/parts";
import { dateInputOk } from "../lib/calllog";
import { useI18n, type Key } from "../lib/i18n";
import {
  formatMinor,
  formatRate,
  historyExportUrl,
  historyQuery,
  messagesApi,
  NO_HISTORY_FILTERS,
  type ChannelFilter,
  type HistoryFilters,
  type HistoryRow,
  type MsgDirectionFilter,
  type StatusFilter,
} from "../lib/messages";
import { DirectionIcon } from "./CallLog";

const MessageHistoryChart = lazy(() => import("./MessageHistoryChart"));
const PAGE = 50;
const STATUSES: StatusFilter[] = ["pending", "sent", "delivered", "failed", "received", "cancelled", "scheduled"];

function TotalCard({ label, value, testId }: { label: string; value: string | number; testId: string }) {
  return (
    <Paper withBorder p="sm" data-testid={testId}>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="xl" data-testid={`${testId}-value`}>
        {value}
      </Text>
    </Paper>
  );
}

export default function MessageHistoryPage() {
  const { t, lang, dateTime } = useI18n();
  const [filters, setFilters] = useState<HistoryFilters>(NO_HISTORY_FILTERS);
  const [offset, setOffset] = useState(0);
  const [debounced] = useDebouncedValue(filters, 300);
  const datesOk = dateInputOk(debounced.from) && dateInputOk(debounced.to);
  const query = useMemo(() => historyQuery(debounced), [debounced]);
  const set = <K extends keyof HistoryFilters>(key: K, value: HistoryFilters[K]) => {
    setFilters((f) => ({ ...f, [key]: value }));
    setOffset(0);
  };
  const report = useQuery({
    queryKey: ["messages", "history", query, offset],
    queryFn: () => messagesApi.history(query, PAGE, offset),
    placeholderData: keepPreviousData,
    enabled: datesOk,
  });

  const columns: Column<HistoryRow>[] = [
    {
      key: "created_at",
      label: t("hist.col.date"),
      value: (r) => new Date(r.created_at).getTime(),
      render: (r) => <span style={{ whiteSpace: "nowrap" }}>{dateTime(r.created_at)}</span>,
    },
    {
      key: "channel",
      label: t("hist.col.channel"),
      value: (r) => r.channel,
      render: (r) => (
        <Badge variant="light" color={r.channel === "sms" ? "teal" : "blue"}>
          {t(`hist.channel.${r.channel as "chat" | "sms"}`)}
        </Badge>
      ),
    },
    {
      key: "direction",
      label: t("hist.col.direction"),
      value: (r) => r.direction,
      render: (r) => (
        <Group gap={4} wrap="nowrap">
          <DirectionIcon direction={r.direction} />
          <Text size="sm">{t(`hist.dir.${r.direction as "internal"}` as Key)}</Text>
        </Group>
      ),
    },
    {
      key: "status",
      label: t("hist.col.status"),
      value: (r) => r.status,
      render: (r) => <StatusMark status={r.status} error={r.error} withLabel />,
    },
    { key: "employee", label: t("hist.col.employee"), value: (r) => r.employee || null },
    {
      key: "number",
      label: t("hist.col.number"),
      value: (r) => r.external_number ?? null,
      render: (r) =>
        r.external_number ? (
          <Stack gap={0}>
            <Text size="sm">{r.external_number}</Text>
            {r.line && (
              <Text size="xs" c="dimmed">
                {r.line}
              </Text>
            )}
          </Stack>
        ) : (
          "—"
        ),
    },
    { key: "parts", label: t("hist.col.parts"), value: (r) => (r.channel === "sms" ? r.parts : null), numeric: true },
    {
      key: "cost",
      label: t("hist.col.cost"),
      value: (r) => r.cost ?? null,
      render: (r) => formatMinor(r.cost, lang),
      numeric: true,
    },
    {
      key: "body",
      label: t("hist.col.text"),
      value: (r) => (r.body_hidden ? "" : r.body),
      render: (r) =>
        r.deleted ? (
          <Text size="sm" c="dimmed" fs="italic" data-testid="history-deleted">
            {t("hist.deleted")}
          </Text>
        ) : r.body_hidden ? (
          <Text size="sm" c="dimmed" fs="italic" data-testid="history-private">
            {t("hist.private")}
          </Text>
        ) : (
          <Tooltip label={r.body} disabled={r.body.length < 60} multiline maw={420}>
            <Text size="sm" lineClamp={2} maw={360} data-testid="history-body" data-message-id={r.id}>
              {r.body || "—"}
            </Text>
          </Tooltip>
        ),
    },
  ];

  const dateField = (key: "from" | "to", label: Key) => (
    <TextInput
      label={t(label)}
      placeholder={t("calls.datePh")}
      value={filters[key]}
      onChange={(e) => set(key, e.currentTarget.value)}
      error={dateInputOk(filters[key]) ? undefined : t("calls.badDate")}
      w={130}
      data-testid={`history-${key}`}
    />
  );
  const totals = report.data?.totals;

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("hist.title")}</Title>
        <Menu>
          <Menu.Target>
            <Button variant="default" leftSection={<IconDownload size={16} />} data-testid="history-export">
              {t("calls.export")}
            </Button>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Item component="a" href={historyExportUrl("csv", query)} download data-testid="history-export-csv">
              {t("calls.exportCsv")}
            </Menu.Item>
            <Menu.Item component="a" href={historyExportUrl("xlsx", query)} download data-testid="history-export-xlsx">
              {t("calls.exportXlsx")}
            </Menu.Item>
          </Menu.Dropdown>
        </Menu>
      </Group>
      <Card withBorder padding="sm">
        <Group wrap="wrap" gap="sm" align="flex-end">
          {dateField("from", "calls.from")}
          {dateField("to", "calls.to")}
          <SegmentedControl
            value={filters.channel}
            onChange={(v) => set("channel", v as ChannelFilter)}
            data-testid="history-channel"
            data={(["all", "chat", "sms"] as const).map((v) => ({ value: v, label: t(`hist.channel.${v}`) }))}
          />
          <Select
            label={t("hist.direction")}
            w={170}
            value={filters.direction}
            onChange={(v) => set("direction", (v ?? "all") as MsgDirectionFilter)}
            allowDeselect={false}
            data={(["all", "internal", "incoming", "outgoing"] as const).map((v) => ({
              value: v,
              label: t(`hist.dir.${v}`),
            }))}
            data-testid="history-direction"
          />
          <Select
            label={t("hist.status")}
            w={170}
            value={filters.status}
            onChange={(v) => set("status", (v ?? "all") as StatusFilter)}
            allowDeselect={false}
            data={[
              { value: "all", label: t("hist.status.all") },
              ...STATUSES.map((s) => ({ value: s, label: t(`msg.status.${s}` as Key) })),
            ]}
            data-testid="history-status"
          />
        </Group>
        <Group wrap="wrap" gap="sm" mt="sm" align="flex-end">
          <TextInput
            label={t("hist.employee")}
            value={filters.employee}
            onChange={(e) => set("employee", e.currentTarget.value)}
            w={210}
            data-testid="history-employee"
          />
          <TextInput
            label={t("hist.number")}
            value={filters.number}
            onChange={(e) => set("number", e.currentTarget.value)}
            w={170}
            data-testid="history-number"
          />
          <TextInput
            label={t("hist.q")}
            leftSection={<IconSearch size={16} />}
            value={filters.q}
            onChange={(e) => set("q", e.currentTarget.value)}
            style={{ flex: 1 }}
            miw={200}
            data-testid="history-search"
          />
          <Button
            variant="subtle"
            color="gray"
            onClick={() => {
              setFilters(NO_HISTORY_FILTERS);
              setOffset(0);
            }}
          >
            {t("calls.reset")}
          </Button>
        </Group>
        {!filters.from && !filters.to && (
          <Text size="xs" c="dimmed" mt="xs">
            {t("hist.defaultPeriod")}
          </Text>
        )}
      </Card>
      {report.isPending && datesOk ? (
        <LoadingState />
      ) : report.error ? (
        <ErrorState error={report.error} onRetry={() => report.refetch()} />
      ) : !report.data || !totals ? null : (
        <>
          <SimpleGrid cols={{ base: 2, sm: 3, md: 5 }} spacing="sm" data-testid="history-totals">
            <TotalCard testId="total-messages" label={t("hist.messages")} value={totals.messages} />
            <TotalCard testId="total-sms-out" label={t("hist.smsOut")} value={totals.sms_outgoing} />
            <TotalCard testId="total-sms-in" label={t("hist.smsIn")} value={totals.sms_incoming} />
            <TotalCard testId="total-chat" label={t("hist.chat")} value={totals.chat} />
            <TotalCard testId="total-delivered" label={t("hist.delivered")} value={totals.delivered} />
            <TotalCard testId="total-failed" label={t("hist.failed")} value={totals.failed} />
            <TotalCard testId="total-pending" label={t("msg.status.pending")} value={totals.pending} />
            <TotalCard testId="total-rate" label={t("hist.rate")} value={totals.sms_outgoing ? formatRate(totals.delivery_rate, lang) : "—"} />
            <TotalCard testId="total-parts" label={t("hist.parts")} value={totals.sms_parts} />
            <TotalCard testId="total-cost" label={t("hist.cost")} value={formatMinor(totals.cost, lang)} />
          </SimpleGrid>
          {report.data.by_day.length > 0 && (
            <Card withBorder padding="sm">
              <Title order={5} mb="xs">
                {t("hist.perDay")}
              </Title>
              <Suspense fallback={<LoadingState />}>
                <MessageHistoryChart days={report.data.by_day} />
              </Suspense>
            </Card>
          )}
          {report.data.items.length === 0 ? (
            <EmptyState>{t("hist.empty")}</EmptyState>
          ) : (
            <>
              <Text size="sm" c="dimmed" data-testid="history-total" data-total={report.data.total}>
                {t("common.total", { n: report.data.total })}
              </Text>
              <SortableTable
                rows={report.data.items}
                columns={columns}
                rowKey={(r) => r.id}
                testId="history-table"
              />
              <Pager total={report.data.total} offset={offset} limit={PAGE} onChange={setOffset} />
            </>
          )}
        </>
      )}
    </Stack>
  );
}
