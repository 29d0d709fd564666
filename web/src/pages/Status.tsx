import {
  Badge,
  Card,
  Group,
  Paper,
  Progress,
  SimpleGrid,
  Stack,
  Table,
  Text,
  ThemeIcon,
  Title,
} from "@mantine/core";
import {
  IconClockHour4,
  IconDeviceMobile,
  IconPhoneCall,
  IconPhoneIncoming,
  IconServer,
  IconUsers,
} from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { api, call } from "../api/client";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { formatDuration, formatTime } from "../lib/dates";
import { useAllDepartments, useAllDevices, useAllEmployees, useHealth } from "../lib/directory";
import { useI18n } from "../lib/i18n";
import { useLiveStatus } from "../lib/live";
import { useMe } from "../lib/session";

const POLL_MS = 3000; // while the live connection is down
const LIVE_SAFETY_MS = 30_000; // while it is up: a slow safety net (e.g. expired registrations)

/** Local midnight today, as the API's ``from``. */
function todayStart(now = new Date()): string {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.toISOString();
}

function Figure({
  label,
  value,
  icon,
  color,
  testid,
}: {
  label: string;
  value: ReactNode;
  icon: ReactNode;
  color: string;
  testid: string;
}) {
  return (
    <Paper withBorder p="md" radius="md">
      <Group justify="space-between" wrap="nowrap">
        <Stack gap={0}>
          <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
            {label}
          </Text>
          <Text fw={700} size="xl" data-testid={testid}>
            {value}
          </Text>
        </Stack>
        <ThemeIcon size={42} radius="md" variant="light" color={color} visibleFrom="sm">
          {icon}
        </ThemeIcon>
      </Group>
    </Paper>
  );
}

export function StatusPage() {
  const { t } = useI18n();
  const me = useMe();
  const isCompany = me.data?.tenant?.kind !== "individual";
  const live = useLiveStatus();
  const poll = live.connected ? LIVE_SAFETY_MS : POLL_MS;
  const calls = useQuery({
    queryKey: ["calls", "active"],
    queryFn: () => call(api.GET("/api/v1/calls/active")),
    refetchInterval: live.connected ? false : POLL_MS,
  });
  const since = todayStart();
  const today = useQuery({
    queryKey: ["calls", "summary", since],
    queryFn: () =>
      call(api.GET("/api/v1/calls/summary", { params: { query: { from: since } } })),
    refetchInterval: live.connected ? LIVE_SAFETY_MS : 15_000,
  });
  const devices = useAllDevices(poll);
  const employees = useAllEmployees(isCompany);
  const departments = useAllDepartments(isCompany);
  const health = useHealth(15_000);

  if (devices.isPending || calls.isPending) return <LoadingState />;
  if (devices.error) return <ErrorState error={devices.error} onRetry={() => devices.refetch()} />;
  if (calls.error) return <ErrorState error={calls.error} onRetry={() => calls.refetch()} />;

  const online = devices.data.filter((d) => d.online);
  const byEmployee = new Map((employees.data ?? []).map((e) => [e.id, e]));
  const byExtension = new Map(
    (employees.data ?? [])
      .filter((e) => e.extension)
      .map((e) => [e.extension as string, `${e.full_name} (${e.extension})`]),
  );
  const activeEmployees = new Set(online.map((d) => d.employee_id).filter((x) => x != null));
  const sipOk = health.data?.sip?.ok === true;
  const now = Date.now();

  const deptCounts = new Map<number | null, { total: number; online: number }>();
  for (const e of employees.data ?? []) {
    const k = e.department_id ?? null;
    const c = deptCounts.get(k) ?? { total: 0, online: 0 };
    c.total += 1;
    if (activeEmployees.has(e.id)) c.online += 1;
    deptCounts.set(k, c);
  }
  const deptName = (id: number | null) =>
    id == null
      ? t("status.noDepartment")
      : (departments.data?.find((d) => d.id === id)?.name ?? `#${id}`);

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("status.title")}</Title>
        <Badge
          variant="dot"
          color={live.connected ? "green" : "yellow"}
          data-testid="updated"
          data-live={live.connected ? "yes" : "no"}
        >
          {live.connected
            ? t("status.live")
            : t("status.updated", { time: formatTime(new Date(devices.dataUpdatedAt)) })}
        </Badge>
      </Group>
      <SimpleGrid cols={{ base: 2, md: 4 }} spacing="sm">
        <Figure
          label={t("status.activeCalls")}
          value={calls.data.total}
          icon={<IconPhoneCall size={22} />}
          color="green"
          testid="active-calls"
        />
        <Figure
          label={t("status.onlineDevices")}
          value={`${online.length} / ${devices.data.length}`}
          icon={<IconDeviceMobile size={22} />}
          color="blue"
          testid="online-devices"
        />
        {isCompany && employees.data && (
          <Figure
            label={t("status.activeUsers")}
            value={`${activeEmployees.size} / ${employees.data.length}`}
            icon={<IconUsers size={22} />}
            color="violet"
            testid="active-users"
          />
        )}
        <Figure
          label={t("status.sip")}
          value={
            <Badge color={sipOk ? "green" : "red"} size="lg" variant="light">
              {sipOk ? t("status.sipOk") : t("status.sipDown")}
            </Badge>
          }
          icon={<IconServer size={22} />}
          color={sipOk ? "teal" : "red"}
          testid="sip-state"
        />
        {today.data && (
          <>
            <Figure
              label={t("status.callsToday")}
              value={
                <Group gap={6} align="baseline" wrap="nowrap">
                  <span data-testid="calls-today">{today.data.totals.calls}</span>
                  <Text span size="xs" c="dimmed" fw={400} data-testid="calls-today-split">
                    {t("status.callsTodaySplit", {
                      answered: today.data.totals.answered,
                      missed: today.data.totals.missed,
                    })}
                  </Text>
                </Group>
              }
              icon={<IconPhoneIncoming size={22} />}
              color="orange"
              testid="calls-today-figure"
            />
            <Figure
              label={t("status.talkToday")}
              value={formatDuration(today.data.totals.talk_seconds)}
              icon={<IconClockHour4 size={22} />}
              color="grape"
              testid="talk-today"
            />
          </>
        )}
      </SimpleGrid>

      <Card withBorder radius="md">
        <Title order={4} mb="sm">
          {t("status.callsTable")}
        </Title>
        {calls.data.items.length === 0 ? (
          <Text c="dimmed" size="sm">
            {t("status.noCalls")}
          </Text>
        ) : (
          <Table.ScrollContainer minWidth={480}>
            <Table striped>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("status.caller")}</Table.Th>
                  <Table.Th>{t("status.callee")}</Table.Th>
                  <Table.Th>{t("status.state")}</Table.Th>
                  <Table.Th>{t("status.since")}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {calls.data.items.map((c) => (
                  <Table.Tr key={c.id}>
                    <Table.Td>
                      {c.caller_name ? `${c.caller_name} (${c.caller})` : c.caller}
                    </Table.Td>
                    <Table.Td>{byExtension.get(c.callee) ?? c.callee}</Table.Td>
                    <Table.Td>
                      <Badge color={c.answered_at ? "green" : "yellow"} variant="light">
                        {c.state === "ringing" || c.state === "answered"
                          ? t(`status.call.${c.state}`)
                          : t("status.call.other")}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      {formatTime(c.started_at)} ·{" "}
                      {formatDuration((now - new Date(c.answered_at ?? c.started_at).getTime()) / 1000)}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Card>

      <SimpleGrid cols={{ base: 1, md: isCompany ? 2 : 1 }}>
        <Card withBorder radius="md">
          <Title order={4} mb="sm">
            {t("status.online")}
          </Title>
          {online.length === 0 ? (
            <EmptyState>{t("status.nobodyOnline")}</EmptyState>
          ) : (
            <Stack gap="xs" data-testid="online-list">
              {online.map((d) => {
                const emp = d.employee_id != null ? byEmployee.get(d.employee_id) : undefined;
                const reg = d.registrations[0];
                return (
                  <Group key={d.id} justify="space-between" wrap="nowrap">
                    <Stack gap={0} style={{ minWidth: 0 }}>
                      <Text size="sm" fw={600} truncate>
                        {emp ? `${emp.full_name} · ${emp.extension ?? ""}` : d.label || d.sip_username}
                      </Text>
                      <Text size="xs" c="dimmed" truncate>
                        {reg?.user_agent || d.sip_username} · {reg?.received_host}:{reg?.received_port}
                      </Text>
                    </Stack>
                    <Badge color="green" variant="light">
                      {t("devices.online")}
                    </Badge>
                  </Group>
                );
              })}
            </Stack>
          )}
        </Card>
        {isCompany && employees.data && employees.data.length > 0 && (
          <Card withBorder radius="md">
            <Title order={4} mb="sm">
              {t("status.byDepartment")}
            </Title>
            <Stack gap="sm">
              {[...deptCounts.entries()]
                .sort((a, b) => b[1].online - a[1].online || b[1].total - a[1].total)
                .map(([id, c]) => (
                  <Stack gap={4} key={id ?? "none"}>
                    <Group justify="space-between">
                      <Text size="sm">{deptName(id)}</Text>
                      <Text size="sm" c="dimmed">
                        {c.online} / {c.total}
                      </Text>
                    </Group>
                    <Progress value={(c.online / c.total) * 100} color="green" size="sm" />
                  </Stack>
                ))}
            </Stack>
          </Card>
        )}
      </SimpleGrid>
      {isCompany && today.data && (
        <Card withBorder radius="md">
          <Title order={4} mb="sm">
            {t("status.callsByDepartment")}
          </Title>
          {today.data.departments.length === 0 ? (
            <Text c="dimmed" size="sm">
              {t("status.noCallsToday")}
            </Text>
          ) : (
            <Stack gap="sm" data-testid="dept-calls">
              {today.data.departments.map((d) => {
                const max = Math.max(...today.data.departments.map((x) => x.calls), 1);
                return (
                  <Stack gap={4} key={d.department_id ?? "none"} data-testid="dept-calls-row">
                    <Group justify="space-between" wrap="nowrap">
                      <Text size="sm" truncate>
                        {d.department_id == null ? t("status.noDepartment") : d.name}
                      </Text>
                      <Text size="sm" c="dimmed">
                        {t("status.deptCalls", {
                          n: d.calls,
                          answered: d.answered,
                          min: Math.round(d.talk_seconds / 60),
                        })}
                      </Text>
                    </Group>
                    <Progress value={(d.calls / max) * 100} color="orange" size="sm" />
                  </Stack>
                );
              })}
            </Stack>
          )}
        </Card>
      )}
      <Text size="xs" c="dimmed">
        {live.connected ? t("status.liveHint") : t("status.polling")}
      </Text>
    </Stack>
  );
}
