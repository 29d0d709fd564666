import {
  ActionIcon,
  Card,
  Group,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  Tooltip,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { IconDownload, IconHeadphones, IconLink, IconPlayerStop, IconSearch } from "@tabler/icons-react";
import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { api, call, PAGE_SIZE, type Schemas } from "../api/client";
import { SortableTable, type Column } from "../components/SortableTable";
import { EmptyState, ErrorState, LoadingState, Pager } from "../components/States";
import { dateInputOk, formatBytes, parseDateInput } from "../lib/calllog";
import { formatDuration } from "../lib/dates";
import { useAllEmployees } from "../lib/directory";
import { errorMessage } from "../lib/errors";
import { useI18n, type Key } from "../lib/i18n";
import { isAdmin, useMe } from "../lib/session";
import { DirectionIcon } from "./CallLog";

type Recording = Schemas["RecordingOut"];
type EmployeeUsage = Schemas["EmployeeUsageOut"];

/** Copies text to the clipboard; false where the browser does not allow it. */
async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

function UsageCard() {
  const { t, lang } = useI18n();
  const usage = useQuery({
    queryKey: ["recordings", "usage"],
    queryFn: () => call(api.GET("/api/v1/recordings/usage")),
  });
  if (usage.isPending) return <LoadingState />;
  if (usage.error) return <ErrorState error={usage.error} />;
  const columns: Column<EmployeeUsage>[] = [
    {
      key: "name",
      label: t("calls.employee"),
      value: (r) => r.name,
      render: (r) => `${r.name}${r.extension ? ` (${r.extension})` : ""}`,
    },
    { key: "recordings", label: t("rec.files"), value: (r) => r.recordings, numeric: true },
    {
      key: "bytes",
      label: t("rec.size"),
      value: (r) => r.bytes,
      render: (r) => formatBytes(r.bytes, lang),
      numeric: true,
    },
  ];
  return (
    <Card withBorder padding="sm">
      <Text fw={600} data-testid="rec-usage-total">
        {t("rec.totalTenant", { n: usage.data.recordings, size: formatBytes(usage.data.bytes, lang) })}
      </Text>
      {usage.data.by_employee.length > 0 && (
        <>
          <Text size="sm" c="dimmed" mt="xs">
            {t("rec.byEmployee")}
          </Text>
          <SortableTable
            rows={usage.data.by_employee}
            columns={columns}
            rowKey={(r) => r.employee_id}
            initialSort={{ key: "bytes", desc: true }}
            testId="rec-usage"
          />
        </>
      )}
    </Card>
  );
}

export function RecordingsPage() {
  const { t, lang, dateTime } = useI18n();
  const me = useMe();
  const admin = isAdmin(me.data);
  const employees = useAllEmployees(admin);
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [employeeId, setEmployeeId] = useState<string | null>(null);
  const [search, setSearch] = useState("");
  const [offset, setOffset] = useState(0);
  const [playing, setPlaying] = useState<string | null>(null);
  const [shared, setShared] = useState<{ id: string; url: string; until: string } | null>(null);
  const [q] = useDebouncedValue(search.trim(), 300);
  const [dates] = useDebouncedValue({ from, to }, 300);
  const datesOk = dateInputOk(dates.from) && dateInputOk(dates.to);
  const query = useMemo(() => {
    const f = parseDateInput(dates.from);
    const t2 = parseDateInput(dates.to);
    return {
      from: f ? f.toISOString() : undefined,
      to: t2 ? new Date(t2.getFullYear(), t2.getMonth(), t2.getDate() + 1).toISOString() : undefined,
      employee_id: employeeId ? Number(employeeId) : undefined,
      q: q || undefined,
    };
  }, [dates, employeeId, q]);

  const list = useQuery({
    queryKey: ["recordings", query, offset],
    queryFn: () =>
      call(api.GET("/api/v1/recordings", { params: { query: { ...query, limit: PAGE_SIZE, offset } } })),
    placeholderData: keepPreviousData,
    enabled: datesOk,
  });

  const names = useMemo(() => new Map((employees.data ?? []).map((e) => [e.id, e.full_name])), [employees.data]);
  const who = (r: Recording) =>
    [r.caller_employee_id, r.callee_employee_id]
      .filter((id): id is number => id != null)
      .map((id) => names.get(id) ?? `#${id}`)
      .join(" → ") || "—";

  const share = useMutation({
    mutationFn: (r: Recording) =>
      call(
        api.POST("/api/v1/recordings/{recording_id}/share", {
          params: { path: { recording_id: r.id } },
          body: { ttl_seconds: 7 * 24 * 3600 },
        }),
      ),
    onSuccess: async (out, r) => {
      const url = new URL(out.url, window.location.origin).toString();
      const until = dateTime(out.expires_at);
      setShared({ id: r.id, url, until });
      if (await copyText(url)) {
        notifications.show({ color: "green", message: t("rec.shareCopied", { until }) });
      }
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });

  const dateField = (value: string, setValue: (v: string) => void, label: Key, id: string) => (
    <TextInput
      label={t(label)}
      placeholder={t("calls.datePh")}
      value={value}
      onChange={(e) => {
        setValue(e.currentTarget.value);
        setOffset(0);
      }}
      error={dateInputOk(value) ? undefined : t("calls.badDate")}
      w={130}
      data-testid={id}
    />
  );

  return (
    <Stack>
      <Title order={2}>{t("rec.title")}</Title>
      {admin && <UsageCard />}
      <Card withBorder padding="sm">
        <Group wrap="wrap" gap="sm" align="flex-end">
          {dateField(from, setFrom, "calls.from", "rec-from")}
          {dateField(to, setTo, "calls.to", "rec-to")}
          {admin && (
            <Select
              label={t("calls.employee")}
              placeholder={t("calls.anyEmployee")}
              searchable
              clearable
              w={240}
              value={employeeId}
              onChange={(v) => {
                setEmployeeId(v);
                setOffset(0);
              }}
              data={(employees.data ?? []).map((e) => ({
                value: String(e.id),
                label: `${e.full_name}${e.extension ? ` · ${e.extension}` : ""}`,
              }))}
              data-testid="rec-employee"
            />
          )}
          <TextInput
            label={t("common.search")}
            leftSection={<IconSearch size={16} />}
            placeholder={t("calls.searchPh")}
            value={search}
            onChange={(e) => {
              setSearch(e.currentTarget.value);
              setOffset(0);
            }}
            style={{ flex: 1 }}
            miw={200}
          />
        </Group>
      </Card>
      {list.isPending && datesOk ? (
        <LoadingState />
      ) : list.error ? (
        <ErrorState error={list.error} onRetry={() => list.refetch()} />
      ) : !list.data || list.data.items.length === 0 ? (
        <EmptyState>{t("rec.empty")}</EmptyState>
      ) : (
        <>
          <Text size="sm" c="dimmed" data-testid="rec-total">
            {t("rec.totalFiltered", { n: list.data.total, size: formatBytes(list.data.total_bytes, lang) })}
          </Text>
          <Table.ScrollContainer minWidth={760}>
            <Table striped highlightOnHover fz="sm" data-testid="rec-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("rec.col.date")}</Table.Th>
                  <Table.Th>{t("calls.employee")}</Table.Th>
                  <Table.Th>{t("rec.col.call")}</Table.Th>
                  <Table.Th ta="right">{t("rec.col.duration")}</Table.Th>
                  <Table.Th ta="right">{t("rec.col.size")}</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {list.data.items.map((r) => {
                  // "uploading": finished and playable, not yet in the storage
                  const ready = r.state === "ready" || r.state === "uploading";
                  return [
                    <Table.Tr key={r.id} data-testid="rec-row">
                      <Table.Td style={{ whiteSpace: "nowrap" }}>{dateTime(r.started_at)}</Table.Td>
                      <Table.Td>{who(r)}</Table.Td>
                      <Table.Td>
                        <Group gap={4} wrap="nowrap">
                          {r.direction && <DirectionIcon direction={r.direction} />}
                          <Text size="sm">
                            {r.caller_name ? `${r.caller_name} ` : ""}
                            {r.caller} → {r.callee}
                          </Text>
                        </Group>
                      </Table.Td>
                      <Table.Td ta="right">
                        {ready ? formatDuration(r.duration_seconds) : t("rec.recording")}
                        {r.state === "uploading" && (
                          <Text span size="xs" c="dimmed" data-testid="rec-uploading">
                            {" · "}
                            {t("rec.uploading")}
                          </Text>
                        )}
                      </Table.Td>
                      <Table.Td ta="right" style={{ whiteSpace: "nowrap" }}>
                        {formatBytes(r.size_bytes, lang)}
                      </Table.Td>
                      <Table.Td>
                        <Group gap={4} wrap="nowrap" justify="flex-end">
                          <Tooltip label={t("rec.listen")}>
                            <ActionIcon
                              variant="light"
                              disabled={!ready}
                              aria-label={t("rec.listen")}
                              onClick={() => setPlaying(playing === r.id ? null : r.id)}
                              data-testid="rec-play"
                            >
                              {playing === r.id ? <IconPlayerStop size={16} /> : <IconHeadphones size={16} />}
                            </ActionIcon>
                          </Tooltip>
                          <Tooltip label={t("rec.download")}>
                            <ActionIcon
                              variant="subtle"
                              component="a"
                              href={`${r.audio_url}?download=1`}
                              aria-label={t("rec.download")}
                              data-disabled={!ready || undefined}
                              data-testid="rec-download"
                            >
                              <IconDownload size={16} />
                            </ActionIcon>
                          </Tooltip>
                          <Tooltip label={t("rec.share")}>
                            <ActionIcon
                              variant="subtle"
                              disabled={!ready}
                              loading={share.isPending && share.variables?.id === r.id}
                              aria-label={t("rec.share")}
                              onClick={() => share.mutate(r)}
                              data-testid="rec-share"
                            >
                              <IconLink size={16} />
                            </ActionIcon>
                          </Tooltip>
                        </Group>
                      </Table.Td>
                    </Table.Tr>,
                    playing === r.id && (
                      <Table.Tr key={`${r.id}-player`}>
                        <Table.Td colSpan={6}>
                          <audio
                            controls
                            autoPlay
                            preload="metadata"
                            src={r.audio_url}
                            data-testid="rec-audio"
                            style={{ width: "100%", maxWidth: 520 }}
                          />
                        </Table.Td>
                      </Table.Tr>
                    ),
                    shared?.id === r.id && (
                      <Table.Tr key={`${r.id}-share`}>
                        <Table.Td colSpan={6}>
                          <TextInput
                            label={t("rec.shareLink", { until: shared.until })}
                            value={shared.url}
                            readOnly
                            onFocus={(e) => e.currentTarget.select()}
                            data-testid="rec-share-url"
                          />
                        </Table.Td>
                      </Table.Tr>
                    ),
                  ];
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Pager total={list.data.total} offset={offset} limit={PAGE_SIZE} onChange={setOffset} />
        </>
      )}
    </Stack>
  );
}
