import {
  ActionIcon,
  Badge,
  Button,
  Card,
  Drawer,
  Group,
  Menu,
  Modal,
  SegmentedControl,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Timeline,
  Title,
  Tooltip,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import {
  IconArrowDownLeft,
  IconArrowUpRight,
  IconArrowsExchange,
  IconDownload,
  IconInfoCircle,
  IconPhoneOutgoing,
  IconPlayerPlay,
  IconPlayerStop,
  IconSearch,
  IconUserPlus,
} from "@tabler/icons-react";
import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { api, call, PAGE_SIZE, type Schemas } from "../api/client";
import { EmptyState, ErrorState, LoadingState, Pager } from "../components/States";
import {
  callLogQuery,
  clientOf,
  dateInputOk,
  employeeOf,
  exportUrl,
  NO_FILTERS,
  type CallLogFilters,
  type DirectionFilter,
  type OutcomeFilter,
} from "../lib/calllog";
import { callBackNumber } from "../lib/callback";
import { canCallBack, useCallBack } from "../lib/callbackApi";
import { formatDuration, formatTime } from "../lib/dates";
import { useAllEmployees } from "../lib/directory";
import { errorMessage } from "../lib/errors";
import { useI18n, type Key } from "../lib/i18n";
import { isAdmin, useMe } from "../lib/session";

type CallRecord = Schemas["CallRecordOut"];

const OUTCOME_COLOR: Record<string, string> = {
  answered: "green",
  missed: "red",
  busy: "orange",
  failed: "gray",
  cancelled: "yellow",
  in_progress: "blue",
};

export function DirectionIcon({ direction }: { direction: string }) {
  if (direction === "incoming") return <IconArrowDownLeft size={16} color="var(--mantine-color-blue-6)" />;
  if (direction === "outgoing") return <IconArrowUpRight size={16} color="var(--mantine-color-teal-6)" />;
  return <IconArrowsExchange size={16} color="var(--mantine-color-gray-6)" />;
}

/** The call's recording, found by its call record and played inline (seeking uses ranges). */
function CallRecordingPlayer({ callId }: { callId: string }) {
  const { t } = useI18n();
  const rec = useQuery({
    queryKey: ["recordings", "call", callId],
    queryFn: () =>
      call(api.GET("/api/v1/recordings", { params: { query: { call_record_id: callId, limit: 5 } } })),
  });
  if (rec.isPending) return <LoadingState />;
  if (rec.error) return <ErrorState error={rec.error} />;
  const ready = rec.data.items.filter((r) => r.state === "ready");
  if (ready.length === 0) {
    return (
      <Text size="sm" c="dimmed" data-testid="no-recording">
        {rec.data.items.length ? t("rec.recording") : t("calls.noRecording")}
      </Text>
    );
  }
  return (
    <Stack gap={4}>
      {ready.map((r) => (
        <Group key={r.id} gap="sm" wrap="nowrap">
          <audio
            controls
            autoPlay
            preload="metadata"
            src={r.audio_url}
            data-testid="call-audio"
            style={{ width: "100%", maxWidth: 480 }}
          />
          <Tooltip label={t("rec.download")}>
            <ActionIcon
              component="a"
              href={`${r.audio_url}?download=1`}
              variant="subtle"
              aria-label={t("rec.download")}
            >
              <IconDownload size={18} />
            </ActionIcon>
          </Tooltip>
        </Group>
      ))}
    </Stack>
  );
}

function AddContactModal({ number, name, onClose }: { number: string; name: string; onClose: () => void }) {
  const { t } = useI18n();
  const [value, setValue] = useState(name || number);
  const add = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/contacts", {
          body: {
            name: value.trim(),
            company: "",
            group: "",
            notes: "",
            favorite: false,
            shared: false,
            numbers: [{ number, label: "" }],
          },
        }),
      ),
    onSuccess: () => {
      notifications.show({ color: "green", message: t("calls.contactAdded", { number }) });
      onClose();
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  return (
    <Modal opened onClose={onClose} title={t("calls.addContact")}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          add.mutate();
        }}
      >
        <Stack>
          <TextInput label={t("contacts.name")} value={value} onChange={(e) => setValue(e.currentTarget.value)} required data-autofocus data-testid="add-contact-name" />
          <TextInput label={t("contacts.number")} value={number} readOnly />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t("common.cancel")}
            </Button>
            <Button type="submit" loading={add.isPending} disabled={!value.trim()} data-testid="add-contact-save">
              {t("common.save")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function stepDetails(step: Record<string, unknown>): string {
  return Object.entries(step)
    .filter(([k]) => k !== "at" && k !== "step")
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" · ");
}

function CallDetails({
  record,
  employeeName,
  callBackTo,
  onCallBack,
  callingBack,
}: {
  record: CallRecord;
  employeeName: (id: number | null) => string;
  callBackTo: string | null;
  onCallBack: (number: string) => void;
  callingBack: boolean;
}) {
  const { t, dateTime } = useI18n();
  const first = record.trace.find((s) => typeof s.at === "number")?.at as number | undefined;
  const rows: [Key, string][] = [
    ["calls.col.direction", t(`calls.dir.${record.direction}` as Key)],
    ["calls.col.outcome", t(`calls.result.${record.outcome}` as Key)],
    ["calls.started", `${dateTime(record.started_at)}:${formatTime(record.started_at).slice(6)}`],
    ["calls.answered", record.answered_at ? formatTime(record.answered_at) : "—"],
    ["calls.ended", record.ended_at ? formatTime(record.ended_at) : "—"],
    ["calls.ring", formatDuration(record.ring_seconds)],
    ["calls.talk", formatDuration(record.talk_seconds)],
    ["calls.endReason", record.end_reason || "—"],
  ];
  return (
    <Stack data-testid="call-details">
      <Text fw={600}>
        {record.caller_name ? `${record.caller_name} ` : ""}
        {record.caller} → {record.callee}
      </Text>
      <Text size="sm" c="dimmed">
        {[employeeName(record.caller_employee_id), employeeName(record.callee_employee_id)]
          .filter((n) => n !== "—")
          .join(" → ")}
      </Text>
      {callBackTo && (
        <Group>
          <Button
            size="xs"
            variant="light"
            leftSection={<IconPhoneOutgoing size={16} />}
            loading={callingBack}
            onClick={() => onCallBack(callBackTo)}
            data-testid="call-details-callback"
          >
            {t("callback.action")} {callBackTo}
          </Button>
        </Group>
      )}
      <Table fz="sm">
        <Table.Tbody>
          {rows.map(([k, v]) => (
            <Table.Tr key={k}>
              <Table.Td c="dimmed">{t(k)}</Table.Td>
              <Table.Td>{v}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Title order={5}>{t("calls.col.recording")}</Title>
      <CallRecordingPlayer callId={record.id} />
      <Title order={5}>{t("calls.trace")}</Title>
      {record.trace.length === 0 ? (
        <Text size="sm" c="dimmed">
          {t("calls.noTrace")}
        </Text>
      ) : (
        <Timeline bulletSize={14} lineWidth={2} data-testid="call-trace">
          {record.trace.map((s, i) => (
            <Timeline.Item
              key={i}
              title={
                <Group gap="xs">
                  <Text size="sm" fw={600}>
                    {String(s.step ?? "")}
                  </Text>
                  {typeof s.at === "number" && first !== undefined && (
                    <Text size="xs" c="dimmed">
                      +{(s.at - first).toFixed(2)} s
                    </Text>
                  )}
                </Group>
              }
            >
              <Text size="xs" c="dimmed">
                {stepDetails(s)}
              </Text>
            </Timeline.Item>
          ))}
        </Timeline>
      )}
      {record.legs.length > 0 && (
        <>
          <Title order={5}>{t("calls.legs")}</Title>
          {record.legs.map((l, i) => (
            <Text key={i} size="xs" c="dimmed">
              {stepDetails(l)}
            </Text>
          ))}
        </>
      )}
    </Stack>
  );
}

export function CallLogPage() {
  const { t, dateTime } = useI18n();
  const me = useMe();
  const admin = isAdmin(me.data);
  const mayCallBack = canCallBack(me.data);
  const employees = useAllEmployees(admin || mayCallBack);
  const callBack = useCallBack();
  const myEmployeeId = employees.data?.find((e) => e.user_id === me.data?.user.id)?.id ?? null;
  const callBackTo = (c: CallRecord) => (mayCallBack ? callBackNumber(c, myEmployeeId) : null);
  const callingBack = (number: string) => callBack.isPending && callBack.variables === number;
  const [filters, setFilters] = useState<CallLogFilters>(NO_FILTERS);
  const [offset, setOffset] = useState(0);
  const [playing, setPlaying] = useState<string | null>(null);
  const [details, setDetails] = useState<CallRecord | null>(null);
  const [adding, setAdding] = useState<{ number: string; name: string } | null>(null);
  const [debounced] = useDebouncedValue(filters, 300);
  const datesOk = dateInputOk(debounced.from) && dateInputOk(debounced.to);
  const query = useMemo(() => callLogQuery(debounced), [debounced]);

  const set = <K extends keyof CallLogFilters>(key: K, value: CallLogFilters[K]) => {
    setFilters((f) => ({ ...f, [key]: value }));
    setOffset(0);
  };

  const list = useQuery({
    queryKey: ["calls", query, offset],
    queryFn: () =>
      call(api.GET("/api/v1/calls", { params: { query: { ...query, limit: PAGE_SIZE, offset } } })),
    placeholderData: keepPreviousData,
    enabled: datesOk,
  });

  const names = useMemo(() => {
    const m = new Map<number, string>();
    for (const e of employees.data ?? []) m.set(e.id, e.extension ? `${e.full_name} (${e.extension})` : e.full_name);
    return m;
  }, [employees.data]);
  const employeeName = (id: number | null) => (id == null ? "—" : (names.get(id) ?? `#${id}`));

  const dateField = (key: "from" | "to", label: Key) => (
    <TextInput
      label={t(label)}
      placeholder={t("calls.datePh")}
      value={filters[key]}
      onChange={(e) => set(key, e.currentTarget.value)}
      error={dateInputOk(filters[key]) ? undefined : t("calls.badDate")}
      w={130}
      data-testid={`calls-${key}`}
    />
  );

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("calls.title")}</Title>
        <Menu>
          <Menu.Target>
            <Button variant="default" leftSection={<IconDownload size={16} />} data-testid="calls-export">
              {t("calls.export")}
            </Button>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Item component="a" href={exportUrl("csv", query)} download data-testid="calls-export-csv">
              {t("calls.exportCsv")}
            </Menu.Item>
            <Menu.Item component="a" href={exportUrl("xlsx", query)} download data-testid="calls-export-xlsx">
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
            value={filters.outcome}
            onChange={(v) => set("outcome", v as OutcomeFilter)}
            data-testid="calls-outcome"
            data={(["all", "answered", "missed"] as const).map((v) => ({
              value: v,
              label: t(`calls.outcome.${v}`),
            }))}
          />
          <SegmentedControl
            value={filters.direction}
            onChange={(v) => set("direction", v as DirectionFilter)}
            data-testid="calls-direction"
            data={(["all", "incoming", "outgoing", "internal"] as const).map((v) => ({
              value: v,
              label: t(`calls.dir.${v}`),
            }))}
          />
        </Group>
        <Group wrap="wrap" gap="sm" mt="sm" align="flex-end">
          {admin && (
            <Select
              label={t("calls.employee")}
              placeholder={t("calls.anyEmployee")}
              searchable
              clearable
              w={240}
              value={filters.employeeId == null ? null : String(filters.employeeId)}
              onChange={(v) => set("employeeId", v ? Number(v) : null)}
              data={(employees.data ?? []).map((e) => ({
                value: String(e.id),
                label: `${e.full_name}${e.extension ? ` · ${e.extension}` : ""} · ID ${e.id}`,
              }))}
              data-testid="calls-employee"
            />
          )}
          <TextInput
            label={t("calls.extension")}
            value={filters.extension}
            onChange={(e) => set("extension", e.currentTarget.value)}
            w={120}
            data-testid="calls-extension"
          />
          <TextInput
            label={t("common.search")}
            leftSection={<IconSearch size={16} />}
            placeholder={t("calls.searchPh")}
            value={filters.q}
            onChange={(e) => set("q", e.currentTarget.value)}
            style={{ flex: 1 }}
            miw={200}
            data-testid="calls-search"
          />
          <Button
            variant="subtle"
            color="gray"
            onClick={() => {
              setFilters(NO_FILTERS);
              setOffset(0);
            }}
          >
            {t("calls.reset")}
          </Button>
        </Group>
      </Card>
      {list.isPending && datesOk ? (
        <LoadingState />
      ) : list.error ? (
        <ErrorState error={list.error} onRetry={() => list.refetch()} />
      ) : !list.data || list.data.items.length === 0 ? (
        <EmptyState>{t("calls.empty")}</EmptyState>
      ) : (
        <>
          <Text size="sm" c="dimmed" data-testid="calls-total">
            {t("common.total", { n: list.data.total })}
          </Text>
          <Table.ScrollContainer minWidth={860}>
            <Table striped highlightOnHover data-testid="calls-table" fz="sm">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("calls.col.date")}</Table.Th>
                  <Table.Th>{t("calls.col.direction")}</Table.Th>
                  <Table.Th>{t("calls.col.employee")}</Table.Th>
                  <Table.Th>{t("calls.col.client")}</Table.Th>
                  <Table.Th ta="right">{t("calls.col.duration")}</Table.Th>
                  <Table.Th>{t("calls.col.outcome")}</Table.Th>
                  <Table.Th>{t("calls.col.recording")}</Table.Th>
                  <Table.Th>{t("calls.col.cost")}</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {list.data.items.map((c) => {
                  const client = clientOf(c);
                  const external = c.direction !== "internal";
                  const back = callBackTo(c);
                  return [
                    <Table.Tr key={c.id} data-testid="call-row" data-call-id={c.id}>
                      <Table.Td style={{ whiteSpace: "nowrap" }}>{dateTime(c.started_at)}</Table.Td>
                      <Table.Td>
                        <Group gap={4} wrap="nowrap">
                          <DirectionIcon direction={c.direction} />
                          <Text size="sm">{t(`calls.dir.${c.direction}` as Key)}</Text>
                        </Group>
                      </Table.Td>
                      <Table.Td>{employeeName(employeeOf(c))}</Table.Td>
                      <Table.Td>
                        <Text size="sm" fw={500}>
                          {client.number}
                        </Text>
                        {client.name && (
                          <Text size="xs" c="dimmed">
                            {client.name}
                          </Text>
                        )}
                      </Table.Td>
                      <Table.Td ta="right" style={{ whiteSpace: "nowrap" }}>
                        {formatDuration(c.talk_seconds)}
                      </Table.Td>
                      <Table.Td>
                        <Badge variant="light" color={OUTCOME_COLOR[c.outcome] ?? "gray"}>
                          {t(`calls.result.${c.outcome}` as Key)}
                        </Badge>
                      </Table.Td>
                      <Table.Td>
                        {c.outcome === "answered" ? (
                          <Tooltip label={t("calls.play")}>
                            <ActionIcon
                              variant="light"
                              aria-label={t("calls.play")}
                              onClick={() => setPlaying(playing === c.id ? null : c.id)}
                              data-testid="call-play"
                            >
                              {playing === c.id ? <IconPlayerStop size={16} /> : <IconPlayerPlay size={16} />}
                            </ActionIcon>
                          </Tooltip>
                        ) : (
                          "—"
                        )}
                      </Table.Td>
                      <Table.Td c="dimmed">—</Table.Td>
                      <Table.Td>
                        <Group gap={4} wrap="nowrap" justify="flex-end">
                          {back && (
                            <Tooltip label={`${t("callback.action")} ${back}`}>
                              <ActionIcon
                                variant="subtle"
                                color="teal"
                                aria-label={`${t("callback.action")} ${back}`}
                                loading={callingBack(back)}
                                onClick={() => callBack.mutate(back)}
                                data-testid="call-callback"
                              >
                                <IconPhoneOutgoing size={16} />
                              </ActionIcon>
                            </Tooltip>
                          )}
                          {external && client.number && (
                            <Tooltip label={t("calls.addContact")}>
                              <ActionIcon
                                variant="subtle"
                                aria-label={t("calls.addContact")}
                                onClick={() => setAdding(client)}
                                data-testid="call-add-contact"
                              >
                                <IconUserPlus size={16} />
                              </ActionIcon>
                            </Tooltip>
                          )}
                          <Tooltip label={t("calls.details")}>
                            <ActionIcon
                              variant="subtle"
                              aria-label={t("calls.details")}
                              onClick={() => setDetails(c)}
                              data-testid="call-details-open"
                            >
                              <IconInfoCircle size={16} />
                            </ActionIcon>
                          </Tooltip>
                        </Group>
                      </Table.Td>
                    </Table.Tr>,
                    playing === c.id && (
                      <Table.Tr key={`${c.id}-player`}>
                        <Table.Td colSpan={9}>
                          <CallRecordingPlayer callId={c.id} />
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
      <Drawer
        opened={details !== null}
        onClose={() => setDetails(null)}
        position="right"
        size="md"
        title={t("calls.details")}
      >
        {details && (
          <CallDetails
            record={details}
            employeeName={employeeName}
            callBackTo={callBackTo(details)}
            onCallBack={(number) => callBack.mutate(number)}
            callingBack={callBack.isPending}
          />
        )}
      </Drawer>
      {adding && <AddContactModal number={adding.number} name={adding.name} onClose={() => setAdding(null)} />}
    </Stack>
  );
}
