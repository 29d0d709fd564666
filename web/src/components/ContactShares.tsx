import { ActionIcon, Button, Group, Modal, Select, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconTrash, IconUser, IconUsersGroup } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, call, type Contact } from "../api/client";
import { useAllDepartments, useAllEmployees } from "../lib/directory";
import { errorMessage } from "../lib/errors";
import { useI18n } from "../lib/i18n";

/** "emp:12" / "dept:3" <-> the API's body. */
export function shareTarget(value: string): { employee_id: number } | { department_id: number } {
  const [kind, id] = value.split(":");
  return kind === "dept" ? { department_id: Number(id) } : { employee_id: Number(id) };
}

/** Share one of my personal contacts with an employee or a department, and unshare. */
export function ContactSharesModal({
  contact,
  myUserId,
  onClose,
}: {
  contact: Contact | null;
  myUserId: number | undefined;
  onClose: () => void;
}) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [target, setTarget] = useState<string | null>(null);
  const id = contact?.id ?? 0;
  const shares = useQuery({
    queryKey: ["contacts", "shares", id],
    queryFn: () =>
      call(api.GET("/api/v1/contacts/{contact_id}/shares", { params: { path: { contact_id: id } } })),
    enabled: contact != null,
  });
  const employees = useAllEmployees(contact != null);
  const departments = useAllDepartments(contact != null);
  const fail = (e: unknown) => notifications.show({ color: "red", message: errorMessage(e) });
  const refresh = () => qc.invalidateQueries({ queryKey: ["contacts", "shares", id] });
  const add = useMutation({
    mutationFn: (value: string) =>
      call(
        api.POST("/api/v1/contacts/{contact_id}/shares", {
          params: { path: { contact_id: id } },
          body: shareTarget(value),
        }),
      ),
    onSuccess: () => {
      setTarget(null);
      void refresh();
    },
    onError: fail,
  });
  const remove = useMutation({
    mutationFn: (shareId: number) =>
      call(
        api.DELETE("/api/v1/contacts/{contact_id}/shares/{share_id}", {
          params: { path: { contact_id: id, share_id: shareId } },
        }),
      ),
    onSuccess: () => void refresh(),
    onError: fail,
  });

  const taken = new Set(
    (shares.data ?? []).map((s) =>
      s.department_id != null ? `dept:${s.department_id}` : `emp:${s.employee_id}`,
    ),
  );
  const options = [
    {
      group: t("contacts.share.departments"),
      items: (departments.data ?? []).map((d) => ({ value: `dept:${d.id}`, label: d.name })),
    },
    {
      group: t("contacts.share.employees"),
      items: (employees.data ?? [])
        .filter((e) => e.user_id !== myUserId)
        .map((e) => ({
          value: `emp:${e.id}`,
          label: e.extension ? `${e.full_name} (${e.extension})` : e.full_name,
        })),
    },
  ].map((g) => ({ ...g, items: g.items.filter((i) => !taken.has(i.value)) }));

  return (
    <Modal
      opened={contact != null}
      onClose={onClose}
      title={t("contacts.share.title", { name: contact?.name ?? "" })}
    >
      <Stack>
        <Text size="sm" c="dimmed">
          {t("contacts.share.hint")}
        </Text>
        {(shares.data ?? []).length === 0 ? (
          <Text size="sm" data-testid="share-none">
            {t("contacts.share.none")}
          </Text>
        ) : (
          <Stack gap={4} data-testid="share-list">
            {(shares.data ?? []).map((s) => (
              <Group key={s.id} justify="space-between" wrap="nowrap" data-testid="share-row">
                <Group gap={6} wrap="nowrap">
                  {s.department_id != null ? <IconUsersGroup size={16} /> : <IconUser size={16} />}
                  <Text size="sm">{s.name}</Text>
                </Group>
                <ActionIcon
                  variant="subtle"
                  color="red"
                  aria-label={t("contacts.share.remove")}
                  onClick={() => remove.mutate(s.id)}
                >
                  <IconTrash size={16} />
                </ActionIcon>
              </Group>
            ))}
          </Stack>
        )}
        <Group align="flex-end" wrap="nowrap">
          <Select
            label={t("contacts.share.with")}
            data={options}
            value={target}
            onChange={setTarget}
            searchable
            style={{ flex: 1 }}
            data-testid="share-target"
          />
          <Button
            onClick={() => target && add.mutate(target)}
            disabled={!target}
            loading={add.isPending}
            data-testid="share-add"
          >
            {t("contacts.share.add")}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
