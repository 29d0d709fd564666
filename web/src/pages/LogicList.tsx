/** The Logic section: the company's call flows (lazy-loaded route). */
import {
  ActionIcon,
  Alert,
  Anchor,
  Badge,
  Button,
  Group,
  Modal,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  Tooltip,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconPlus, IconTrash } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link as RouterLink, useNavigate } from "react-router";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { confirmDanger } from "../lib/confirm";
import { errorMessage } from "../lib/errors";
import { errorCount } from "../lib/flow";
import { flowApi, type Flow } from "../lib/flowApi";
import { useI18n, type Key } from "../lib/i18n";

function CreateModal({ onClose }: { onClose: () => void }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const create = useMutation({
    mutationFn: () => flowApi.create(name.trim()),
    onSuccess: (f) => {
      qc.invalidateQueries({ queryKey: ["flows", "list"] });
      qc.setQueryData(["flows", f.id], f);
      navigate(`/logic/${f.id}`);
    },
  });
  return (
    <Modal opened onClose={onClose} title={t("flow.create")} centered>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim()) create.mutate();
        }}
      >
        <Stack>
          {create.error && (
            <Alert color="red" role="alert">
              {errorMessage(create.error)}
            </Alert>
          )}
          <TextInput
            label={t("flow.name")}
            required
            data-autofocus
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            data-testid="flow-create-name"
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t("common.cancel")}
            </Button>
            <Button type="submit" loading={create.isPending} disabled={!name.trim()} data-testid="flow-create-save">
              {t("flow.create")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function attachedTo(t: (k: Key) => string, f: Flow): string {
  if (!f.attachments.length) return t("flow.notAttached");
  return f.attachments.map((a) => a.label || `${a.kind} ${a.target_id}`).join(", ");
}

export function LogicListPage() {
  const { t, dateTime } = useI18n();
  const qc = useQueryClient();
  const [creating, setCreating] = useState(false);
  const flows = useQuery({ queryKey: ["flows", "list"], queryFn: flowApi.list });
  const remove = useMutation({
    mutationFn: (id: number) => flowApi.remove(id),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["flows", "list"] });
      notifications.show({ color: "green", message: t("common.deleted") });
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("flow.title")}</Title>
        <Button leftSection={<IconPlus size={16} />} onClick={() => setCreating(true)} data-testid="flow-create">
          {t("flow.create")}
        </Button>
      </Group>
      <Text size="sm" c="dimmed">
        {t("flow.intro")}
      </Text>
      {flows.isPending ? (
        <LoadingState />
      ) : flows.error ? (
        <ErrorState error={flows.error} onRetry={() => flows.refetch()} />
      ) : flows.data.length === 0 ? (
        <EmptyState
          action={
            <Button variant="light" onClick={() => setCreating(true)}>
              {t("flow.create")}
            </Button>
          }
        >
          {t("flow.empty")}
        </EmptyState>
      ) : (
        <Table.ScrollContainer minWidth={640}>
          <Table striped highlightOnHover verticalSpacing="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("flow.name")}</Table.Th>
                <Table.Th>{t("flow.attachedTo")}</Table.Th>
                <Table.Th>{t("flow.publishedVersion")}</Table.Th>
                <Table.Th>{t("flow.problems")}</Table.Th>
                <Table.Th>{t("flow.updatedAt")}</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {flows.data.map((f) => {
                const errors = errorCount(f.problems ?? []);
                return (
                  <Table.Tr key={f.id} data-testid="flow-row" data-flow={f.name}>
                    <Table.Td>
                      <Anchor component={RouterLink} to={`/logic/${f.id}`} fw={600} data-testid="flow-open">
                        {f.name}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm" c={f.attachments.length ? undefined : "dimmed"}>
                        {attachedTo(t, f)}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      {f.published_version != null ? (
                        <Badge color="green" variant="light">
                          {t("flow.versionN", { n: f.published_version })}
                        </Badge>
                      ) : (
                        <Badge color="gray" variant="light">
                          {t("flow.notPublished")}
                        </Badge>
                      )}
                    </Table.Td>
                    <Table.Td>
                      <Badge color={errors ? "red" : "teal"} variant="light" data-testid="flow-row-problems">
                        {errors}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm">{dateTime(f.updated_at)}</Text>
                    </Table.Td>
                    <Table.Td>
                      <Tooltip label={t("common.delete")}>
                        <ActionIcon
                          variant="subtle"
                          color="red"
                          aria-label={t("common.delete")}
                          data-testid="flow-delete"
                          onClick={() =>
                            confirmDanger({
                              title: t("common.confirmTitle"),
                              message: t("flow.deleteConfirm", { name: f.name }),
                              confirm: t("common.delete"),
                              cancel: t("common.cancel"),
                              onConfirm: () => remove.mutate(f.id),
                            })
                          }
                        >
                          <IconTrash size={16} />
                        </ActionIcon>
                      </Tooltip>
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {creating && <CreateModal onClose={() => setCreating(false)} />}
    </Stack>
  );
}

export default LogicListPage;
