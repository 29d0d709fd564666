import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Card,
  Group,
  Menu,
  Modal,
  Paper,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { notifications } from "@mantine/notifications";
import {
  IconArrowsMove,
  IconDots,
  IconGripVertical,
  IconPencil,
  IconPlus,
  IconTrash,
} from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type DragEvent } from "react";
import { api, call, type Department, type Employee } from "../api/client";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { confirmDanger } from "../lib/confirm";
import { useAllDepartments, useAllEmployees } from "../lib/directory";
import { errorMessage } from "../lib/errors";
import { applyApiError } from "../lib/forms";
import { useI18n } from "../lib/i18n";
import { isAdmin, useMe } from "../lib/session";

const DRAG_TYPE = "application/x-clickphone-employee";

function EmployeeChip({
  e,
  departments,
  canMove,
  onMove,
}: {
  e: Employee;
  departments: Department[];
  canMove: boolean;
  onMove: (e: Employee, dept: Department | null) => void;
}) {
  const { t } = useI18n();
  return (
    <Paper
      withBorder
      p="xs"
      radius="sm"
      className={canMove ? "draggable" : undefined}
      draggable={canMove}
      onDragStart={(ev: DragEvent) => {
        ev.dataTransfer.setData(DRAG_TYPE, String(e.id));
        ev.dataTransfer.setData("text/plain", e.full_name);
        ev.dataTransfer.effectAllowed = "move";
      }}
      data-testid="dept-employee"
      data-employee={e.full_name}
    >
      <Group justify="space-between" wrap="nowrap" gap={6}>
        <Group gap={6} wrap="nowrap" style={{ minWidth: 0 }}>
          {canMove && <IconGripVertical size={14} color="gray" />}
          <Stack gap={0} style={{ minWidth: 0 }}>
            <Text size="sm" fw={500} truncate>
              {e.full_name}
            </Text>
            <Text size="xs" c="dimmed" truncate>
              {[e.extension, e.position].filter(Boolean).join(" · ")}
            </Text>
          </Stack>
        </Group>
        {canMove && (
          <Menu position="bottom-end" withinPortal>
            <Menu.Target>
              <ActionIcon variant="subtle" size="sm" aria-label={t("departments.moveTo")}>
                <IconArrowsMove size={14} />
              </ActionIcon>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Label>{t("departments.moveTo")}</Menu.Label>
              {departments
                .filter((d) => d.id !== e.department_id)
                .map((d) => (
                  <Menu.Item key={d.id} onClick={() => onMove(e, d)}>
                    {d.name}
                  </Menu.Item>
                ))}
              {e.department_id != null && (
                <Menu.Item onClick={() => onMove(e, null)}>{t("departments.unassigned")}</Menu.Item>
              )}
            </Menu.Dropdown>
          </Menu>
        )}
      </Group>
    </Paper>
  );
}

function Column({
  title,
  dept,
  members,
  admin,
  onDropEmployee,
  onRename,
  onDelete,
  children,
}: {
  title: string;
  dept: Department | null;
  members: number;
  admin: boolean;
  onDropEmployee: (employeeId: number) => void;
  onRename?: () => void;
  onDelete?: () => void;
  children: React.ReactNode;
}) {
  const { t } = useI18n();
  const [over, setOver] = useState(false);
  return (
    <Card
      withBorder
      radius="md"
      className="dropzone"
      data-over={over}
      data-testid="dept-column"
      data-dept={title}
      onDragOver={(ev: DragEvent) => {
        if (!admin || !ev.dataTransfer.types.includes(DRAG_TYPE)) return;
        ev.preventDefault();
        ev.dataTransfer.dropEffect = "move";
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(ev: DragEvent) => {
        ev.preventDefault();
        setOver(false);
        const id = Number(ev.dataTransfer.getData(DRAG_TYPE));
        if (id) onDropEmployee(id);
      }}
    >
      <Group justify="space-between" mb="xs" wrap="nowrap">
        <Group gap={6} wrap="nowrap" style={{ minWidth: 0 }}>
          <Text fw={700} truncate c={dept ? undefined : "dimmed"}>
            {title}
          </Text>
          <Badge size="sm" variant="light" color="gray">
            {members}
          </Badge>
        </Group>
        {admin && dept && (
          <Menu position="bottom-end" withinPortal>
            <Menu.Target>
              <ActionIcon variant="subtle" aria-label={`${title} menu`} data-testid="dept-menu">
                <IconDots size={16} />
              </ActionIcon>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Item leftSection={<IconPencil size={14} />} onClick={onRename}>
                {t("departments.rename")}
              </Menu.Item>
              <Menu.Item leftSection={<IconTrash size={14} />} color="red" onClick={onDelete}>
                {t("common.delete")}
              </Menu.Item>
            </Menu.Dropdown>
          </Menu>
        )}
      </Group>
      {dept?.description && (
        <Text size="xs" c="dimmed" mb="xs">
          {dept.description}
        </Text>
      )}
      <Stack gap={6} mih={60}>
        {children}
        {members === 0 && (
          <Text size="xs" c="dimmed" ta="center" py="md">
            {t("departments.noMembers")}
          </Text>
        )}
      </Stack>
    </Card>
  );
}

function DepartmentModal({
  dept,
  opened,
  onClose,
}: {
  dept: Department | null;
  opened: boolean;
  onClose: () => void;
}) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [formError, setFormError] = useState("");
  const form = useForm({
    initialValues: { name: dept?.name ?? "", description: dept?.description ?? "" },
  });
  const save = useMutation({
    mutationFn: (v: typeof form.values) =>
      dept
        ? call(
            api.PATCH("/api/v1/departments/{department_id}", {
              params: { path: { department_id: dept.id } },
              body: v,
            }),
          )
        : call(api.POST("/api/v1/departments", { body: v })),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["departments"] });
      onClose();
    },
    onError: (e) => setFormError(applyApiError(form, e)),
  });
  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={dept ? t("departments.rename") : t("departments.add")}
      centered
    >
      <form
        noValidate
        onSubmit={form.onSubmit((v) => {
          setFormError("");
          save.mutate(v);
        })}
      >
        <Stack>
          {formError && (
            <Alert color="red" role="alert">
              {formError}
            </Alert>
          )}
          <TextInput
            label={t("departments.name")}
            required
            data-autofocus
            {...form.getInputProps("name")}
            data-testid="dept-name"
          />
          <TextInput label={t("departments.description")} {...form.getInputProps("description")} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t("common.cancel")}
            </Button>
            <Button type="submit" loading={save.isPending} data-testid="dept-save">
              {t("common.save")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

export function DepartmentsPage() {
  const { t } = useI18n();
  const me = useMe();
  const admin = isAdmin(me.data);
  const qc = useQueryClient();
  const departments = useAllDepartments();
  const employees = useAllEmployees();
  const [modal, setModal] = useState<{ dept: Department | null } | null>(null);

  const move = useMutation({
    mutationFn: ({ e, dept }: { e: Employee; dept: Department | null }) =>
      call(
        api.PATCH("/api/v1/employees/{employee_id}", {
          params: { path: { employee_id: e.id } },
          body: { department_id: dept?.id ?? null },
        }),
      ),
    onMutate: async ({ e, dept }) => {
      // Move the card at once; the server's answer confirms or rolls back.
      await qc.cancelQueries({ queryKey: ["employees", "all"] });
      const before = qc.getQueryData(["employees", "all"]);
      qc.setQueryData(["employees", "all"], (old: { items: Employee[] } | undefined) =>
        old
          ? {
              ...old,
              items: old.items.map((x) => (x.id === e.id ? { ...x, department_id: dept?.id ?? null } : x)),
            }
          : old,
      );
      return { before };
    },
    onError: (err, _v, ctx) => {
      if (ctx?.before) qc.setQueryData(["employees", "all"], ctx.before);
      notifications.show({ color: "red", message: errorMessage(err) });
    },
    onSuccess: (_d, { e, dept }) =>
      notifications.show({
        color: "green",
        message: t("departments.moved", {
          name: e.full_name,
          dept: dept?.name ?? t("departments.unassigned"),
        }),
      }),
    onSettled: () => qc.invalidateQueries({ queryKey: ["employees"] }),
  });
  const remove = useMutation({
    mutationFn: (id: number) =>
      call(
        api.DELETE("/api/v1/departments/{department_id}", {
          params: { path: { department_id: id } },
        }),
      ),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["departments"] });
      qc.invalidateQueries({ queryKey: ["employees"] });
    },
    onError: (err) => notifications.show({ color: "red", message: errorMessage(err) }),
  });

  if (departments.isPending || employees.isPending) return <LoadingState />;
  if (departments.error)
    return <ErrorState error={departments.error} onRetry={() => departments.refetch()} />;
  if (employees.error)
    return <ErrorState error={employees.error} onRetry={() => employees.refetch()} />;

  const depts = departments.data;
  const all = employees.data;
  const moveTo = (employeeId: number, dept: Department | null) => {
    const e = all.find((x) => x.id === employeeId);
    if (e && (e.department_id ?? null) !== (dept?.id ?? null)) move.mutate({ e, dept });
  };
  const chips = (list: Employee[]) =>
    list.map((e) => (
      <EmployeeChip
        key={e.id}
        e={e}
        departments={depts}
        canMove={admin}
        onMove={(emp, d) => moveTo(emp.id, d)}
      />
    ));
  const unassigned = all.filter((e) => e.department_id == null);

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("departments.title")}</Title>
        {admin && (
          <Button
            leftSection={<IconPlus size={16} />}
            onClick={() => setModal({ dept: null })}
            data-testid="dept-add"
          >
            {t("departments.add")}
          </Button>
        )}
      </Group>
      {depts.length === 0 ? (
        <EmptyState
          action={
            admin ? (
              <Button variant="light" onClick={() => setModal({ dept: null })}>
                {t("departments.add")}
              </Button>
            ) : undefined
          }
        >
          {t("departments.empty")}
        </EmptyState>
      ) : (
        admin && (
          <Text size="sm" c="dimmed">
            {t("departments.dragHint")}
          </Text>
        )
      )}
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
        {depts.map((d) => {
          const members = all.filter((e) => e.department_id === d.id);
          return (
            <Column
              key={d.id}
              title={d.name}
              dept={d}
              members={members.length}
              admin={admin}
              onDropEmployee={(id) => moveTo(id, d)}
              onRename={() => setModal({ dept: d })}
              onDelete={() =>
                confirmDanger({
                  title: t("common.confirmTitle"),
                  message: t("departments.deleteConfirm", { name: d.name }),
                  confirm: t("common.delete"),
                  cancel: t("common.cancel"),
                  onConfirm: () => remove.mutate(d.id),
                })
              }
            >
              {chips(members)}
            </Column>
          );
        })}
        {(unassigned.length > 0 || depts.length > 0) && (
          <Column
            title={t("departments.unassigned")}
            dept={null}
            members={unassigned.length}
            admin={admin}
            onDropEmployee={(id) => moveTo(id, null)}
          >
            {chips(unassigned)}
          </Column>
        )}
      </SimpleGrid>
      {modal && (
        <DepartmentModal dept={modal.dept} opened onClose={() => setModal(null)} />
      )}
    </Stack>
  );
}
