import {
  ActionIcon,
  Badge,
  Button,
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
import { IconDeviceMobile, IconPencil, IconPlus, IconSearch, IconTrash } from "@tabler/icons-react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, call, PAGE_SIZE, type DeviceCreated, type Employee } from "../api/client";
import { CredentialsModal, type ShownCredentials } from "../components/Credentials";
import { EmptyState, ErrorState, LoadingState, Pager } from "../components/States";
import { confirmDanger } from "../lib/confirm";
import { useAllDepartments, useAllDevices } from "../lib/directory";
import { errorMessage } from "../lib/errors";
import { useI18n, type Key } from "../lib/i18n";
import { isAdmin, useMe } from "../lib/session";
import { DevicesDrawer } from "./Devices";
import { EmployeeFormModal } from "./EmployeeForm";

export function EmployeesPage() {
  const { t } = useI18n();
  const me = useMe();
  const admin = isAdmin(me.data);
  const qc = useQueryClient();
  const [search, setSearch] = useState("");
  const [q] = useDebouncedValue(search.trim(), 250);
  const [dept, setDept] = useState<string | null>(null);
  const [offset, setOffset] = useState(0);
  const [editing, setEditing] = useState<Employee | null>(null);
  const [formOpen, setFormOpen] = useState(false);
  const [devicesOf, setDevicesOf] = useState<Employee | null>(null);
  const [secret, setSecret] = useState<ShownCredentials | null>(null);

  const departments = useAllDepartments();
  const devices = useAllDevices(5000);
  const list = useQuery({
    queryKey: ["employees", { q, dept, offset }],
    queryFn: () =>
      call(
        api.GET("/api/v1/employees", {
          params: {
            query: {
              q: q || undefined,
              department_id: dept ? Number(dept) : undefined,
              limit: PAGE_SIZE,
              offset,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const remove = useMutation({
    mutationFn: (id: number) =>
      call(api.DELETE("/api/v1/employees/{employee_id}", { params: { path: { employee_id: id } } })),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["employees"] });
      qc.invalidateQueries({ queryKey: ["devices"] });
      notifications.show({ message: t("common.deleted"), color: "green" });
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });

  const deptName = (id: number | null | undefined) =>
    id == null ? "—" : (departments.data?.find((d) => d.id === id)?.name ?? "—");
  const deviceSummary = (e: Employee) => {
    const mine = (devices.data ?? []).filter((d) => d.employee_id === e.id);
    const online = mine.filter((d) => d.online).length;
    return { total: mine.length, online };
  };
  const showDeviceSecret = (d: DeviceCreated, title?: string) =>
    setSecret({
      title: title ?? d.label ?? d.sip_username,
      sipUsername: d.sip_username,
      sipPassword: d.sip_password,
      realm: d.sip_realm,
    });

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("employees.title")}</Title>
        {admin && (
          <Button
            leftSection={<IconPlus size={16} />}
            onClick={() => {
              setEditing(null);
              setFormOpen(true);
            }}
            data-testid="employee-add"
          >
            {t("employees.add")}
          </Button>
        )}
      </Group>
      <Group grow preventGrowOverflow={false} wrap="wrap">
        <TextInput
          leftSection={<IconSearch size={16} />}
          placeholder={t("employees.searchPh")}
          aria-label={t("common.search")}
          value={search}
          onChange={(e) => {
            setSearch(e.currentTarget.value);
            setOffset(0);
          }}
          miw={220}
          data-testid="employee-search"
        />
        <Select
          placeholder={t("employees.allDepartments")}
          aria-label={t("employees.department")}
          clearable
          data={(departments.data ?? []).map((d) => ({ value: String(d.id), label: d.name }))}
          value={dept}
          onChange={(v) => {
            setDept(v);
            setOffset(0);
          }}
          maw={280}
          miw={180}
        />
      </Group>
      <Card withBorder radius="md" p={0}>
        {list.isPending ? (
          <LoadingState />
        ) : list.error ? (
          <ErrorState error={list.error} onRetry={() => list.refetch()} />
        ) : list.data.items.length === 0 ? (
          <EmptyState
            action={
              !q && !dept && admin ? (
                <Button variant="light" onClick={() => setFormOpen(true)}>
                  {t("employees.add")}
                </Button>
              ) : undefined
            }
          >
            {q || dept ? t("employees.nothingFound") : t("employees.empty")}
          </EmptyState>
        ) : (
          <Table.ScrollContainer minWidth={640}>
            <Table highlightOnHover verticalSpacing="sm" data-testid="employees-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("employees.name")}</Table.Th>
                  <Table.Th>{t("employees.extension")}</Table.Th>
                  <Table.Th>{t("employees.department")}</Table.Th>
                  <Table.Th>{t("employees.devices")}</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {list.data.items.map((e) => {
                  const s = deviceSummary(e);
                  return (
                    <Table.Tr key={e.id} data-testid="employee-row">
                      <Table.Td>
                        <Text fw={600} size="sm">
                          {e.full_name}
                          {e.role !== "employee" && (
                            <Badge ml={6} size="xs" variant="outline">
                              {t(`employees.role.${e.role}` as Key)}
                            </Badge>
                          )}
                        </Text>
                        <Text size="xs" c="dimmed">
                          {[e.position, e.email].filter(Boolean).join(" · ")}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Text ff="monospace">{e.extension ?? "—"}</Text>
                      </Table.Td>
                      <Table.Td>{deptName(e.department_id)}</Table.Td>
                      <Table.Td>
                        <Button
                          size="compact-sm"
                          variant="subtle"
                          color={s.online ? "green" : "gray"}
                          leftSection={<IconDeviceMobile size={14} />}
                          onClick={() => setDevicesOf(e)}
                          data-testid="employee-devices"
                        >
                          {s.total ? `${s.online} / ${s.total} ${t("devices.online").toLowerCase()}` : "0"}
                        </Button>
                      </Table.Td>
                      <Table.Td>
                        {admin && (
                          <Group gap={2} justify="flex-end" wrap="nowrap">
                            <Tooltip label={t("common.edit")}>
                              <ActionIcon
                                variant="subtle"
                                aria-label={t("common.edit")}
                                onClick={() => {
                                  setEditing(e);
                                  setFormOpen(true);
                                }}
                              >
                                <IconPencil size={16} />
                              </ActionIcon>
                            </Tooltip>
                            <Tooltip label={t("common.delete")}>
                              <ActionIcon
                                variant="subtle"
                                color="red"
                                aria-label={t("common.delete")}
                                disabled={e.role === "tenant_owner"}
                                onClick={() =>
                                  confirmDanger({
                                    title: t("common.confirmTitle"),
                                    message: t("employees.deleteConfirm", { name: e.full_name }),
                                    confirm: t("common.delete"),
                                    cancel: t("common.cancel"),
                                    onConfirm: () => remove.mutate(e.id),
                                  })
                                }
                              >
                                <IconTrash size={16} />
                              </ActionIcon>
                            </Tooltip>
                          </Group>
                        )}
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Card>
      {list.data && (
        <Pager total={list.data.total} offset={offset} limit={PAGE_SIZE} onChange={setOffset} />
      )}
      <EmployeeFormModal
        opened={formOpen}
        employee={editing}
        departments={departments.data ?? []}
        onClose={() => setFormOpen(false)}
        onCreated={(c) => {
          notifications.show({ message: t("employees.created"), color: "green" });
          if (c.device || c.initial_password) {
            setSecret({
              title: `${c.full_name} · ${c.extension ?? ""}`,
              cabinetEmail: c.email,
              cabinetPassword: c.initial_password,
              sipUsername: c.device?.sip_username,
              sipPassword: c.device?.sip_password,
              realm: c.device?.sip_realm,
            });
          }
        }}
      />
      <DevicesDrawer
        employee={devicesOf}
        onClose={() => setDevicesOf(null)}
        onSecret={(d) => showDeviceSecret(d)}
      />
      <CredentialsModal shown={secret} onClose={() => setSecret(null)} />
    </Stack>
  );
}
