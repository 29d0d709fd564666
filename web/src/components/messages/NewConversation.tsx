/** "New": a message to a colleague, a group chat (members picked or dragged in), an SMS. */
import {
  Alert,
  Badge,
  Button,
  CloseButton,
  Group,
  Modal,
  Paper,
  ScrollArea,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Text,
  Textarea,
  TextInput,
  UnstyledButton,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconGripVertical } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { Employee } from "../../api/client";
import { useAllEmployees } from "../../lib/directory";
import { errorMessage } from "../../lib/errors";
import { useI18n } from "../../lib/i18n";
import {
  CONVERSATIONS_KEY,
  LINES_KEY,
  localInputValue,
  messagesApi,
  scheduledIso,
} from "../../lib/messages";
import { SmsCounter } from "./parts";

export type NewKind = "direct" | "group" | "sms";

function employeeLabel(e: Employee): string {
  return e.extension ? `${e.full_name} · ${e.extension}` : e.full_name;
}

function useColleagues(meId: number | undefined) {
  const employees = useAllEmployees();
  return { ...employees, colleagues: (employees.data ?? []).filter((e) => e.user_id !== meId) };
}

function DirectForm({ meId, onOpened, onClose }: { meId?: number; onOpened: (id: number) => void; onClose: () => void }) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const { colleagues } = useColleagues(meId);
  const [who, setWho] = useState<string | null>(null);
  const open = useMutation({
    mutationFn: () => messagesApi.open({ kind: "direct", user_id: Number(who), user_ids: [] }),
    onSuccess: (conv) => {
      void qc.invalidateQueries({ queryKey: CONVERSATIONS_KEY });
      onOpened(conv.id);
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  return (
    <Stack>
      <Select
        label={t("msg.colleague")}
        placeholder={t("msg.pickColleague")}
        searchable
        data={colleagues.map((e) => ({ value: String(e.user_id), label: employeeLabel(e) }))}
        value={who}
        onChange={setWho}
        data-autofocus
        data-testid="new-direct-user"
        comboboxProps={{ withinPortal: true }}
      />
      <Group justify="flex-end">
        <Button variant="default" onClick={onClose}>
          {t("common.cancel")}
        </Button>
        <Button disabled={!who} loading={open.isPending} onClick={() => open.mutate()} data-testid="new-direct-start">
          {t("msg.start")}
        </Button>
      </Group>
    </Stack>
  );
}

const DRAG_TYPE = "application/x-clickphone-user";

function GroupForm({ meId, onOpened, onClose }: { meId?: number; onOpened: (id: number) => void; onClose: () => void }) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const { colleagues } = useColleagues(meId);
  const [title, setTitle] = useState("");
  const [members, setMembers] = useState<number[]>([]);
  const [over, setOver] = useState(false);
  const add = (id: number) => setMembers((m) => (m.includes(id) ? m : [...m, id]));
  const byUser = new Map(colleagues.map((e) => [e.user_id, e]));
  const create = useMutation({
    mutationFn: () => messagesApi.open({ kind: "group", title: title.trim(), user_ids: members }),
    onSuccess: (conv) => {
      void qc.invalidateQueries({ queryKey: CONVERSATIONS_KEY });
      onOpened(conv.id);
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  return (
    <Stack>
      <TextInput
        label={t("msg.groupName")}
        value={title}
        onChange={(e) => setTitle(e.currentTarget.value)}
        required
        data-autofocus
        data-testid="new-group-title"
      />
      <SimpleGrid cols={2}>
        <Stack gap={4}>
          <Text size="sm" fw={500}>
            {t("msg.employees")}
          </Text>
          <ScrollArea h={240} type="auto">
            <Stack gap={4} data-testid="new-group-employees">
              {colleagues
                .filter((e) => !members.includes(e.user_id))
                .map((e) => (
                  <UnstyledButton
                    key={e.user_id}
                    draggable
                    onDragStart={(ev) => {
                      ev.dataTransfer.setData(DRAG_TYPE, String(e.user_id));
                      ev.dataTransfer.setData("text/plain", String(e.user_id));
                      ev.dataTransfer.effectAllowed = "copy";
                    }}
                    onClick={() => add(e.user_id)}
                    data-testid="new-group-employee"
                    data-user-id={e.user_id}
                  >
                    <Paper withBorder px="xs" py={4}>
                      <Group gap={4} wrap="nowrap">
                        <IconGripVertical size={14} opacity={0.5} />
                        <Text size="sm" truncate>
                          {employeeLabel(e)}
                        </Text>
                      </Group>
                    </Paper>
                  </UnstyledButton>
                ))}
            </Stack>
          </ScrollArea>
        </Stack>
        <Stack gap={4}>
          <Text size="sm" fw={500}>
            {t("msg.members", { n: members.length + 1 })}
          </Text>
          <Paper
            withBorder
            p="xs"
            h={240}
            bg={over ? "blue.0" : undefined}
            style={{ borderStyle: "dashed", overflowY: "auto" }}
            onDragOver={(ev) => {
              ev.preventDefault();
              ev.dataTransfer.dropEffect = "copy";
              setOver(true);
            }}
            onDragLeave={() => setOver(false)}
            onDrop={(ev) => {
              ev.preventDefault();
              setOver(false);
              const id = Number(ev.dataTransfer.getData(DRAG_TYPE) || ev.dataTransfer.getData("text/plain"));
              if (byUser.has(id)) add(id);
            }}
            data-testid="new-group-members"
          >
            {members.length === 0 ? (
              <Text size="xs" c="dimmed" ta="center" mt="xl">
                {t("msg.dropHere")}
              </Text>
            ) : (
              <Group gap={4}>
                {members.map((id) => (
                  <Badge
                    key={id}
                    variant="light"
                    data-testid="new-group-member"
                    data-user-id={id}
                    rightSection={
                      <CloseButton size="xs" onClick={() => setMembers((m) => m.filter((x) => x !== id))} />
                    }
                  >
                    {byUser.get(id)?.full_name ?? `#${id}`}
                  </Badge>
                ))}
              </Group>
            )}
          </Paper>
        </Stack>
      </SimpleGrid>
      <Group justify="flex-end">
        <Button variant="default" onClick={onClose}>
          {t("common.cancel")}
        </Button>
        <Button
          disabled={!title.trim() || members.length === 0}
          loading={create.isPending}
          onClick={() => create.mutate()}
          data-testid="new-group-create"
        >
          {t("msg.create")}
        </Button>
      </Group>
    </Stack>
  );
}

function SmsForm({ onOpened, onClose }: { onOpened: (id: number) => void; onClose: () => void }) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const lines = useQuery({ queryKey: LINES_KEY, queryFn: messagesApi.lines });
  const [to, setTo] = useState("");
  const [line, setLine] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [translit, setTranslit] = useState(false);
  const [later, setLater] = useState(false);
  const [at, setAt] = useState("");
  const chosen = line ?? lines.data?.[0]?.e164 ?? null;
  const send = useMutation({
    mutationFn: () =>
      messagesApi.sms({
        to: to.trim(),
        line: chosen,
        text,
        translit,
        scheduled_at: later ? scheduledIso(at) : null,
      }),
    onSuccess: (msg) => {
      notifications.show({ color: "green", message: t("msg.smsQueued") });
      void qc.invalidateQueries({ queryKey: CONVERSATIONS_KEY });
      onOpened(msg.conversation_id);
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  const noLines = lines.data && lines.data.length === 0;
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        send.mutate();
      }}
    >
      <Stack>
        {noLines && (
          <Alert color="yellow" data-testid="new-sms-nolines">
            {t("msg.noLines")}
          </Alert>
        )}
        <TextInput
          label={t("msg.number")}
          placeholder={t("msg.numberPh")}
          value={to}
          onChange={(e) => setTo(e.currentTarget.value)}
          required
          data-autofocus
          data-testid="new-sms-to"
        />
        <Select
          label={t("msg.line")}
          data={(lines.data ?? []).map((l) => ({ value: l.e164, label: l.label ? `${l.e164} · ${l.label}` : l.e164 }))}
          value={chosen}
          onChange={setLine}
          allowDeselect={false}
          disabled={!lines.data?.length}
          data-testid="new-sms-line"
          comboboxProps={{ withinPortal: true }}
        />
        <Textarea
          label={t("msg.text")}
          autosize
          minRows={3}
          maxRows={8}
          value={text}
          onChange={(e) => setText(e.currentTarget.value)}
          required
          data-testid="new-sms-text"
        />
        <Group gap="md">
          <Switch size="xs" label={t("msg.translit")} checked={translit} onChange={(e) => setTranslit(e.currentTarget.checked)} />
          <Switch
            size="xs"
            label={t("msg.later")}
            checked={later}
            onChange={(e) => {
              const on = e.currentTarget.checked;
              setLater(on);
              if (on && !at) setAt(localInputValue(new Date(Date.now() + 60 * 60 * 1000)));
            }}
          />
          {later && (
            <TextInput size="xs" type="datetime-local" aria-label={t("msg.laterAt")} value={at} onChange={(e) => setAt(e.currentTarget.value)} />
          )}
        </Group>
        <SmsCounter text={text} translit={translit} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            {t("common.cancel")}
          </Button>
          <Button
            type="submit"
            disabled={!to.trim() || !text.trim() || (later && !scheduledIso(at))}
            loading={send.isPending}
            data-testid="new-sms-send"
          >
            {t("msg.send")}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

export function NewConversationModal({
  kind,
  meId,
  onOpened,
  onClose,
}: {
  kind: NewKind;
  meId: number | undefined;
  onOpened: (conversationId: number) => void;
  onClose: () => void;
}) {
  const { t } = useI18n();
  const done = (id: number) => {
    onClose();
    onOpened(id);
  };
  return (
    <Modal opened onClose={onClose} title={t(`msg.new.${kind}`)} size={kind === "group" ? "lg" : "md"}>
      {kind === "direct" && <DirectForm meId={meId} onOpened={done} onClose={onClose} />}
      {kind === "group" && <GroupForm meId={meId} onOpened={done} onClose={onClose} />}
      {kind === "sms" && <SmsForm onOpened={done} onClose={onClose} />}
    </Modal>
  );
}
