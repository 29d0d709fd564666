/** One conversation: its messages with delivery marks, per-message actions, the group's
 * members, and the composer. */
import {
  ActionIcon,
  Anchor,
  Badge,
  Button,
  CloseButton,
  FileButton,
  Group,
  Menu,
  Modal,
  MultiSelect,
  Paper,
  ScrollArea,
  SegmentedControl,
  Stack,
  Switch,
  Text,
  Textarea,
  TextInput,
  Title,
  Tooltip,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import {
  IconClock,
  IconCopy,
  IconDots,
  IconDownload,
  IconDoorExit,
  IconMail,
  IconPaperclip,
  IconSend,
  IconTrash,
  IconUsers,
} from "@tabler/icons-react";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState } from "react";
import { ErrorState, LoadingState } from "../States";
import { formatBytes } from "../../lib/calllog";
import { confirmDanger } from "../../lib/confirm";
import { useAllEmployees } from "../../lib/directory";
import { errorMessage } from "../../lib/errors";
import { useI18n } from "../../lib/i18n";
import {
  attachmentOf,
  canDelete,
  canManageGroup,
  CONVERSATIONS_KEY,
  conversationTitle,
  fileUrl,
  localInputValue,
  messagesApi,
  scheduledIso,
  THREAD_PAGE,
  threadKey,
  UNREAD_KEY,
  type ChatEntry,
  type Conversation,
  type Message,
} from "../../lib/messages";
import { SmsCounter, StatusMark } from "./parts";

const MAX_FILE = 20 * 1024 * 1024;

function EmailModal({ message, onClose }: { message: Message; onClose: () => void }) {
  const { t } = useI18n();
  const [to, setTo] = useState("");
  const send = useMutation({
    mutationFn: () => messagesApi.email(message.id, to.trim() || null),
    onSuccess: (r) => {
      notifications.show({ color: "green", message: t("msg.emailSent", { to: r.sent_to }) });
      onClose();
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  return (
    <Modal opened onClose={onClose} title={t("msg.email")}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          send.mutate();
        }}
      >
        <Stack>
          <TextInput
            type="email"
            label={t("msg.emailTo")}
            description={t("msg.emailHint")}
            value={to}
            onChange={(e) => setTo(e.currentTarget.value)}
            data-autofocus
            data-testid="email-to"
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t("common.cancel")}
            </Button>
            <Button type="submit" loading={send.isPending} leftSection={<IconMail size={16} />} data-testid="email-send">
              {t("msg.send")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function MessageBubble({
  m,
  mine,
  deletable,
  sender,
  onEmail,
}: {
  m: Message;
  mine: boolean;
  deletable: boolean;
  sender: string | null;
  onEmail: (m: Message) => void;
}) {
  const { t, lang, dateTime } = useI18n();
  const qc = useQueryClient();
  const file = attachmentOf(m);
  const deleted = !!m.deleted_at;
  const remove = useMutation({
    mutationFn: () => messagesApi.remove(m.id),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["messages"] }),
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(m.body);
      notifications.show({ color: "green", message: t("common.copied") });
    } catch (e) {
      notifications.show({ color: "red", message: errorMessage(e) });
    }
  };
  return (
    <Group justify={mine ? "flex-end" : "flex-start"} wrap="nowrap" align="flex-start">
      <Paper
        withBorder
        p="xs"
        radius="md"
        maw="75%"
        bg={mine ? "blue.0" : undefined}
        data-testid="message"
        data-message-id={m.id}
        data-status={m.status}
        data-mine={mine ? "yes" : "no"}
        data-deleted={deleted ? "yes" : "no"}
      >
        {sender && (
          <Text size="xs" fw={700} c="blue.8" data-testid="message-sender">
            {sender}
          </Text>
        )}
        {deleted ? (
          <Text size="sm" fs="italic" c="dimmed">
            {t("msg.deleted")}
          </Text>
        ) : (
          m.body && (
            <Text size="sm" style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }} data-testid="message-body">
              {m.body}
            </Text>
          )
        )}
        {file && (
          <Anchor href={fileUrl(m.id)} download={file.name} size="sm" data-testid="message-file">
            <Group gap={4} wrap="nowrap">
              <IconPaperclip size={14} />
              {file.name} ({formatBytes(file.size, lang)})
            </Group>
          </Anchor>
        )}
        <Group gap={6} justify="flex-end" wrap="nowrap" mt={2}>
          <Text size="xs" c="dimmed">
            {dateTime(m.created_at)}
          </Text>
          {(mine || m.direction === "outgoing") && !deleted && (
            <StatusMark status={m.status} error={m.error} scheduledAt={m.scheduled_at} />
          )}
          {!deleted && (
            <Menu position="bottom-end" withinPortal>
              <Menu.Target>
                <ActionIcon variant="subtle" color="gray" size="xs" aria-label={t("msg.actions")} data-testid="message-menu">
                  <IconDots size={14} />
                </ActionIcon>
              </Menu.Target>
              <Menu.Dropdown>
                {m.body && (
                  <Menu.Item leftSection={<IconCopy size={14} />} onClick={copy} data-testid="message-copy">
                    {t("msg.copy")}
                  </Menu.Item>
                )}
                {file && (
                  <Menu.Item
                    component="a"
                    href={fileUrl(m.id)}
                    download={file.name}
                    leftSection={<IconDownload size={14} />}
                    data-testid="message-download"
                  >
                    {t("msg.download")}
                  </Menu.Item>
                )}
                <Menu.Item leftSection={<IconMail size={14} />} onClick={() => onEmail(m)} data-testid="message-email">
                  {t("msg.email")}
                </Menu.Item>
                {deletable && (
                  <Menu.Item
                    color="red"
                    leftSection={<IconTrash size={14} />}
                    data-testid="message-delete"
                    onClick={() =>
                      confirmDanger({
                        title: t("msg.delete"),
                        message: t("msg.deleteConfirm"),
                        confirm: t("msg.delete"),
                        cancel: t("common.cancel"),
                        onConfirm: () => remove.mutate(),
                      })
                    }
                  >
                    {t("msg.delete")}
                  </Menu.Item>
                )}
              </Menu.Dropdown>
            </Menu>
          )}
        </Group>
      </Paper>
    </Group>
  );
}

function Composer({ conv }: { conv: Conversation }) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const sms = conv.kind === "sms";
  const [text, setText] = useState("");
  const [translit, setTranslit] = useState(false);
  const [later, setLater] = useState(false);
  const [at, setAt] = useState("");
  const [file, setFile] = useState<File | null>(null);
  useEffect(() => {
    setText("");
    setFile(null);
    setLater(false);
  }, [conv.id]);
  const send = useMutation({
    mutationFn: () => {
      if (file) return messagesApi.sendFile(conv.id, file, text.trim());
      return messagesApi.post(conv.id, {
        text,
        translit,
        scheduled_at: later ? scheduledIso(at) : null,
      });
    },
    onSuccess: () => {
      setText("");
      setFile(null);
      setLater(false);
      void qc.invalidateQueries({ queryKey: threadKey(conv.id) });
      void qc.invalidateQueries({ queryKey: CONVERSATIONS_KEY });
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  const ready = (text.trim() || file) && (!later || scheduledIso(at)) && !send.isPending;
  const submit = () => {
    if (ready) send.mutate();
  };
  return (
    <Stack gap={6} data-testid="composer">
      {file && (
        <Group gap={4}>
          <Badge variant="light" leftSection={<IconPaperclip size={12} />} data-testid="composer-file">
            {file.name}
          </Badge>
          <CloseButton size="sm" aria-label={t("msg.removeFile")} onClick={() => setFile(null)} />
        </Group>
      )}
      <Group align="flex-end" wrap="nowrap" gap="xs">
        {!sms && (
          <FileButton
            onChange={(f) => {
              if (f && f.size > MAX_FILE) {
                notifications.show({ color: "red", message: t("msg.tooBig") });
                return;
              }
              setFile(f);
              setLater(false);
            }}
            inputProps={{ "data-testid": "composer-file-input" } as Record<string, string>}
          >
            {(props) => (
              <Tooltip label={t("msg.attach")}>
                <ActionIcon {...props} variant="subtle" size="lg" aria-label={t("msg.attach")} data-testid="composer-attach">
                  <IconPaperclip size={18} />
                </ActionIcon>
              </Tooltip>
            )}
          </FileButton>
        )}
        <Textarea
          style={{ flex: 1 }}
          autosize
          minRows={1}
          maxRows={6}
          placeholder={sms ? t("msg.placeholderSms") : t("msg.placeholder")}
          value={text}
          onChange={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              submit();
            }
          }}
          aria-label={t("msg.text")}
          data-testid="composer-text"
        />
        <Button onClick={submit} disabled={!ready} loading={send.isPending} leftSection={<IconSend size={16} />} data-testid="composer-send">
          {t("msg.send")}
        </Button>
      </Group>
      <Group gap="md" wrap="wrap">
        <Tooltip label={t("msg.translitHint")} multiline maw={300}>
          <Switch
            size="xs"
            label={t("msg.translit")}
            checked={translit}
            onChange={(e) => setTranslit(e.currentTarget.checked)}
            data-testid="composer-translit"
          />
        </Tooltip>
        <Switch
          size="xs"
          label={t("msg.later")}
          checked={later}
          disabled={!!file}
          onChange={(e) => {
            const on = e.currentTarget.checked;
            setLater(on);
            if (on && !at) setAt(localInputValue(new Date(Date.now() + 60 * 60 * 1000)));
          }}
          data-testid="composer-later"
        />
        {later && (
          <TextInput
            size="xs"
            type="datetime-local"
            leftSection={<IconClock size={14} />}
            aria-label={t("msg.laterAt")}
            value={at}
            min={localInputValue(new Date())}
            onChange={(e) => setAt(e.currentTarget.value)}
            data-testid="composer-at"
          />
        )}
        {sms && <SmsCounter text={text} translit={translit} />}
      </Group>
    </Stack>
  );
}

function GroupMembers({ conv, meId, admin }: { conv: Conversation; meId: number | undefined; admin: boolean }) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [adding, setAdding] = useState<string[]>([]);
  const employees = useAllEmployees();
  const manage = canManageGroup(conv, meId, admin);
  const title = conv.title;
  const done = () => {
    void qc.invalidateQueries({ queryKey: CONVERSATIONS_KEY });
  };
  const change = useMutation({
    mutationFn: (body: { add?: number[]; remove?: number[] }) => messagesApi.members(conv.id, body),
    onSuccess: (_, body) => {
      setAdding([]);
      if (body.remove?.includes(meId ?? -1)) notifications.show({ message: t("msg.left") });
      done();
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  const drop = useMutation({
    mutationFn: () => messagesApi.deleteGroup(conv.id),
    onSuccess: () => {
      notifications.show({ message: t("msg.groupDeleted") });
      done();
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  const memberIds = new Set(conv.members.map((m) => m.user_id));
  const candidates = (employees.data ?? [])
    .filter((e) => !memberIds.has(e.user_id))
    .map((e) => ({ value: String(e.user_id), label: e.extension ? `${e.full_name} · ${e.extension}` : e.full_name }));
  return (
    <Stack gap={6} data-testid="group-members">
      <Group gap={6}>
        <IconUsers size={16} />
        <Text size="sm" fw={600}>
          {t("msg.members", { n: conv.members.length })}
        </Text>
        {conv.members.map((m) => (
          <Badge
            key={m.user_id}
            variant="light"
            color={m.user_id === meId ? "blue" : "gray"}
            data-testid="group-member"
            data-user-id={m.user_id}
            rightSection={
              manage && m.user_id !== meId ? (
                <CloseButton
                  size="xs"
                  aria-label={t("msg.removeMember", { name: m.full_name })}
                  onClick={() => change.mutate({ remove: [m.user_id] })}
                  data-testid="group-member-remove"
                />
              ) : undefined
            }
          >
            {m.full_name}
          </Badge>
        ))}
      </Group>
      <Group gap="xs" align="flex-end" wrap="wrap">
        <MultiSelect
          size="xs"
          searchable
          placeholder={t("msg.addMembers")}
          data={candidates}
          value={adding}
          onChange={setAdding}
          w={280}
          data-testid="group-add"
          comboboxProps={{ withinPortal: true }}
        />
        <Button
          size="xs"
          variant="light"
          disabled={adding.length === 0}
          loading={change.isPending}
          onClick={() => change.mutate({ add: adding.map(Number) })}
          data-testid="group-add-save"
        >
          {t("msg.add")}
        </Button>
        <Button
          size="xs"
          variant="subtle"
          color="gray"
          leftSection={<IconDoorExit size={14} />}
          data-testid="group-leave"
          onClick={() =>
            confirmDanger({
              title: t("msg.leave"),
              message: t("msg.leaveConfirm", { name: title }),
              confirm: t("msg.leave"),
              cancel: t("common.cancel"),
              onConfirm: () => meId !== undefined && change.mutate({ remove: [meId] }),
            })
          }
        >
          {t("msg.leave")}
        </Button>
        {manage && (
          <Button
            size="xs"
            variant="subtle"
            color="red"
            leftSection={<IconTrash size={14} />}
            data-testid="group-delete"
            onClick={() =>
              confirmDanger({
                title: t("msg.deleteGroup"),
                message: t("msg.deleteGroupConfirm", { name: title }),
                confirm: t("common.delete"),
                cancel: t("common.cancel"),
                onConfirm: () => drop.mutate(),
              })
            }
          >
            {t("msg.deleteGroup")}
          </Button>
        )}
      </Group>
    </Stack>
  );
}

/** The open conversation (``conv``), one of ``entry``'s when a contact has several numbers. */
export function Thread({
  conv,
  entry,
  meId,
  admin,
  onSwitch,
}: {
  conv: Conversation;
  entry: ChatEntry | undefined;
  meId: number | undefined;
  admin: boolean;
  onSwitch: (conversationId: number) => void;
}) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [emailing, setEmailing] = useState<Message | null>(null);
  const viewport = useRef<HTMLDivElement>(null);
  const thread = useInfiniteQuery({
    queryKey: threadKey(conv.id),
    queryFn: ({ pageParam }) => messagesApi.thread(conv.id, pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (page) => (page.length >= THREAD_PAGE ? page[0]?.created_at : undefined),
  });
  // Reading marks the conversation read: the header's count and the list catch up.
  useEffect(() => {
    if (!thread.dataUpdatedAt) return;
    void qc.invalidateQueries({ queryKey: UNREAD_KEY });
    void qc.invalidateQueries({ queryKey: CONVERSATIONS_KEY });
  }, [thread.dataUpdatedAt, qc]);
  const messages = useMemo(
    () => (thread.data ? [...thread.data.pages].reverse().flat() : []),
    [thread.data],
  );
  const newest = messages[messages.length - 1]?.id;
  useEffect(() => {
    const el = viewport.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [newest, conv.id]);
  const names = useMemo(() => new Map(conv.members.map((m) => [m.user_id, m.full_name])), [conv.members]);
  const sms = conv.kind === "sms";
  const numbers = entry && entry.conversations.length > 1 ? entry.conversations : null;
  const senderOf = (m: Message): string | null => {
    if (conv.kind === "direct" || m.sender_user_id == null || m.sender_user_id === meId) return null;
    return names.get(m.sender_user_id) ?? `#${m.sender_user_id}`;
  };

  return (
    <Stack gap="sm" h="100%" data-testid="thread" data-conversation-id={conv.id} data-kind={conv.kind}>
      <Stack gap={4}>
        <Group justify="space-between" wrap="nowrap">
          <Title order={4} data-testid="thread-title" lineClamp={1}>
            {conversationTitle(conv, meId)}
          </Title>
          <Badge variant="light" color={sms ? "teal" : conv.kind === "group" ? "grape" : "blue"}>
            {t(`msg.kind.${conv.kind as "direct" | "group" | "sms"}`)}
          </Badge>
        </Group>
        {sms && (
          <Group gap="xs" wrap="wrap">
            {numbers ? (
              <SegmentedControl
                size="xs"
                aria-label={t("msg.numbers")}
                value={String(conv.id)}
                onChange={(v) => onSwitch(Number(v))}
                data={numbers.map((c) => ({ value: String(c.id), label: c.external_number ?? "" }))}
                data-testid="thread-numbers"
              />
            ) : (
              <Text size="sm" c="dimmed">
                {conv.external_number}
              </Text>
            )}
            {conv.line && (
              <Text size="xs" c="dimmed">
                {t("msg.viaLine", { line: conv.line })}
              </Text>
            )}
          </Group>
        )}
        {conv.kind === "group" && <GroupMembers conv={conv} meId={meId} admin={admin} />}
      </Stack>
      <ScrollArea style={{ flex: 1 }} viewportRef={viewport} type="auto" offsetScrollbars>
        {thread.isPending ? (
          <LoadingState />
        ) : thread.error ? (
          <ErrorState error={thread.error} onRetry={() => thread.refetch()} />
        ) : (
          <Stack gap={6} p={4} data-testid="messages">
            {thread.hasNextPage && (
              <Button
                variant="subtle"
                size="xs"
                onClick={() => thread.fetchNextPage()}
                loading={thread.isFetchingNextPage}
              >
                {t("msg.earlier")}
              </Button>
            )}
            {messages.length === 0 && (
              <Text c="dimmed" ta="center" py="xl" size="sm">
                {t("msg.empty")}
              </Text>
            )}
            {messages.map((m) => (
              <MessageBubble
                key={m.id}
                m={m}
                mine={meId !== undefined && m.sender_user_id === meId}
                deletable={canDelete(m, meId)}
                sender={senderOf(m)}
                onEmail={setEmailing}
              />
            ))}
          </Stack>
        )}
      </ScrollArea>
      <Composer conv={conv} />
      {emailing && <EmailModal message={emailing} onClose={() => setEmailing(null)} />}
    </Stack>
  );
}
