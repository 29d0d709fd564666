import { Alert, Button, Group, Modal, MultiSelect, Stack, Text } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { useAllDepartments, useAllEmployees } from "../../lib/directory";
import { ApiError, errorMessage } from "../../lib/errors";
import { flowApi, useTenantNumbers, type Attachment, type AttachmentKind, type Flow } from "../../lib/flowApi";
import { useI18n } from "../../lib/i18n";

/** Which numbers, employees and departments run this flow for their incoming calls. */
export function AttachmentsModal({
  flow,
  opened,
  onClose,
  onSaved,
}: {
  flow: Flow;
  opened: boolean;
  onClose: () => void;
  onSaved: () => void;
}) {
  const { t } = useI18n();
  const numbers = useTenantNumbers(opened);
  const employees = useAllEmployees(opened);
  const departments = useAllDepartments(opened);
  const initial = (kind: AttachmentKind) =>
    flow.attachments.filter((a) => a.kind === kind).map((a) => String(a.target_id));
  const [chosen, setChosen] = useState<Record<AttachmentKind, string[]>>(() => ({
    number: initial("number"),
    employee: initial("employee"),
    department: initial("department"),
  }));
  const save = useMutation({
    mutationFn: () => {
      const list: Attachment[] = (Object.keys(chosen) as AttachmentKind[]).flatMap((kind) =>
        chosen[kind].map((id) => ({ kind, target_id: Number(id) })),
      );
      return flowApi.setAttachments(flow.id, list);
    },
    onSuccess: () => {
      onSaved();
      onClose();
    },
  });
  const err = save.error;
  const set = (kind: AttachmentKind) => (v: string[]) => setChosen({ ...chosen, [kind]: v });
  return (
    <Modal opened={opened} onClose={onClose} title={t("flow.attachments")} centered size="lg">
      <Stack>
        <Text size="sm" c="dimmed">
          {t("flow.attachmentsHint")}
        </Text>
        {err && (
          <Alert color="red" role="alert">
            {err instanceof ApiError && err.errorId === "flow_target_taken"
              ? t("flow.targetTaken", { detail: err.message })
              : errorMessage(err)}
          </Alert>
        )}
        <MultiSelect
          label={t("flow.attach.numbers")}
          searchable
          data={(numbers.data ?? []).map((n) => ({ value: String(n.id), label: n.label ? `${n.e164} · ${n.label}` : n.e164 }))}
          value={chosen.number}
          onChange={set("number")}
          data-testid="attach-numbers"
        />
        <MultiSelect
          label={t("flow.attach.employees")}
          searchable
          data={(employees.data ?? []).map((e) => ({
            value: String(e.id),
            label: e.extension ? `${e.full_name} (${e.extension})` : e.full_name,
          }))}
          value={chosen.employee}
          onChange={set("employee")}
          data-testid="attach-employees"
        />
        <MultiSelect
          label={t("flow.attach.departments")}
          searchable
          data={(departments.data ?? []).map((d) => ({ value: String(d.id), label: d.name }))}
          value={chosen.department}
          onChange={set("department")}
          data-testid="attach-departments"
        />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            {t("common.cancel")}
          </Button>
          <Button loading={save.isPending} onClick={() => save.mutate()} data-testid="attach-save">
            {t("common.save")}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
