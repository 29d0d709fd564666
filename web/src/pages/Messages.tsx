/** Messages: conversations on the left (SMS threads of one contact merged into one partner),
 * the open thread on the right. Loaded lazily (App.tsx). */
import {
  Avatar,
  Badge,
  Box,
  Button,
  Card,
  Group,
  Indicator,
  Menu,
  ScrollArea,
  Stack,
  Text,
  TextInput,
  Title,
  UnstyledButton,
} from "@mantine/core";
import {
  IconHistory,
  IconMessage,
  IconMessagePlus,
  IconPaperclip,
  IconSearch,
  IconSend2,
  IconSpeakerphone,
  IconUsers,
  IconUsersGroup,
} from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { NewConversationModal, type NewKind } from "../components/messages/NewConversation";
import { Thread } from "../components/messages/Thread";
import { useI18n } from "../lib/i18n";
import {
  attachmentOf,
  CONVERSATIONS_KEY,
  entryOf,
  groupConversations,
  matchesSearch,
  messagesApi,
  type ChatEntry,
} from "../lib/messages";
import { isAdmin, useMe } from "../lib/session";

const KIND_ICON = { direct: IconMessage, group: IconUsersGroup, sms: IconSend2 } as const;
const KIND_COLOR = { direct: "blue", group: "grape", sms: "teal" } as const;

function EntryRow({ entry, active, onOpen }: { entry: ChatEntry; active: boolean; onOpen: () => void }) {
  const { t, dateTime } = useI18n();
  const Icon = KIND_ICON[entry.kind] ?? IconMessage;
  const last = entry.lastMessage;
  let preview = "";
  if (last) {
    if (last.deleted_at) preview = t("msg.deleted");
    else if (last.body) preview = last.body;
    else preview = attachmentOf(last)?.name ?? t("msg.file");
  }
  const numbers = entry.kind === "sms" ? entry.conversations.length : 1;
  return (
    <UnstyledButton
      onClick={onOpen}
      p="xs"
      style={{
        borderRadius: "var(--mantine-radius-md)",
        background: active ? "var(--mantine-color-blue-light)" : undefined,
      }}
      data-testid="conversation"
      data-conversation-id={entry.conversations[0]?.id}
      data-kind={entry.kind}
      data-unread={entry.unread}
      data-active={active ? "yes" : "no"}
    >
      <Group gap="sm" wrap="nowrap" align="flex-start">
        <Indicator label={entry.unread} size={16} disabled={!entry.unread} color="red" offset={4}>
          <Avatar radius="xl" color={KIND_COLOR[entry.kind]} size={36}>
            <Icon size={18} />
          </Avatar>
        </Indicator>
        <Box style={{ flex: 1, minWidth: 0 }}>
          <Group justify="space-between" gap={4} wrap="nowrap">
            <Text size="sm" fw={entry.unread ? 700 : 600} truncate data-testid="conversation-title">
              {entry.title}
            </Text>
            <Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }}>
              {last ? dateTime(last.created_at) : ""}
            </Text>
          </Group>
          <Group gap={4} wrap="nowrap">
            {last && attachmentOf(last) && <IconPaperclip size={12} />}
            <Text size="xs" c="dimmed" truncate style={{ flex: 1 }}>
              {preview}
            </Text>
            {numbers > 1 && (
              <Badge size="xs" variant="light" color="teal">
                {numbers}
              </Badge>
            )}
            {entry.unread > 0 && (
              <Badge size="sm" color="red" circle data-testid="conversation-unread">
                {entry.unread}
              </Badge>
            )}
          </Group>
        </Box>
      </Group>
    </UnstyledButton>
  );
}

export default function MessagesPage() {
  const { t } = useI18n();
  const me = useMe();
  const meId = me.data?.user.id;
  const admin = isAdmin(me.data);
  const [params, setParams] = useSearchParams();
  const selected = Number(params.get("c")) || null;
  const [search, setSearch] = useState("");
  const [creating, setCreating] = useState<NewKind | null>(null);
  const list = useQuery({ queryKey: CONVERSATIONS_KEY, queryFn: messagesApi.conversations });
  const entries = useMemo(() => groupConversations(list.data ?? [], meId), [list.data, meId]);
  const shown = entries.filter((e) => matchesSearch(e, search));
  const conv = list.data?.find((c) => c.id === selected);
  const entry = entryOf(entries, selected);
  const open = (id: number) => setParams({ c: String(id) });

  return (
    <Stack gap="sm" h="calc(100dvh - 60px - 2 * var(--mantine-spacing-md))">
      <Group justify="space-between" wrap="wrap">
        <Title order={2}>{t("msg.title")}</Title>
        <Group gap="xs">
          <Button component={Link} to="/messages/mailings" variant="default" leftSection={<IconSpeakerphone size={16} />} data-testid="open-mailings">
            {t("msg.mailings")}
          </Button>
          <Button component={Link} to="/reports/messages" variant="default" leftSection={<IconHistory size={16} />}>
            {t("msg.history")}
          </Button>
          <Menu position="bottom-end">
            <Menu.Target>
              <Button leftSection={<IconMessagePlus size={16} />} data-testid="new-conversation">
                {t("msg.new")}
              </Button>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Item leftSection={<IconMessage size={16} />} onClick={() => setCreating("direct")} data-testid="new-direct">
                {t("msg.new.direct")}
              </Menu.Item>
              <Menu.Item leftSection={<IconUsers size={16} />} onClick={() => setCreating("group")} data-testid="new-group">
                {t("msg.new.group")}
              </Menu.Item>
              <Menu.Item leftSection={<IconSend2 size={16} />} onClick={() => setCreating("sms")} data-testid="new-sms">
                {t("msg.new.sms")}
              </Menu.Item>
            </Menu.Dropdown>
          </Menu>
        </Group>
      </Group>
      <Group align="stretch" gap="sm" wrap="nowrap" style={{ flex: 1, minHeight: 0 }}>
        <Card withBorder padding="xs" w={340} style={{ display: "flex", flexDirection: "column", flexShrink: 0 }}>
          <TextInput
            leftSection={<IconSearch size={16} />}
            placeholder={t("msg.search")}
            aria-label={t("msg.search")}
            value={search}
            onChange={(e) => setSearch(e.currentTarget.value)}
            mb="xs"
            data-testid="conversation-search"
          />
          <ScrollArea style={{ flex: 1 }} type="auto">
            {list.isPending ? (
              <LoadingState />
            ) : list.error ? (
              <ErrorState error={list.error} onRetry={() => list.refetch()} />
            ) : shown.length === 0 ? (
              <Text c="dimmed" size="sm" ta="center" py="lg">
                {entries.length === 0 ? t("msg.noConversations") : t("msg.nothingFound")}
              </Text>
            ) : (
              <Stack gap={2} data-testid="conversations">
                {shown.map((e) => (
                  <EntryRow
                    key={e.key}
                    entry={e}
                    active={!!selected && e.conversations.some((c) => c.id === selected)}
                    onOpen={() => open(e.conversations[0]!.id)}
                  />
                ))}
              </Stack>
            )}
          </ScrollArea>
        </Card>
        <Card withBorder padding="sm" style={{ flex: 1, minWidth: 0, display: "flex", flexDirection: "column" }}>
          {conv ? (
            <Thread key={conv.id} conv={conv} entry={entry} meId={meId} admin={admin} onSwitch={open} />
          ) : list.isPending && selected ? (
            <LoadingState />
          ) : (
            <EmptyState>{t("msg.pick")}</EmptyState>
          )}
        </Card>
      </Group>
      {creating && (
        <NewConversationModal kind={creating} meId={meId} onOpened={open} onClose={() => setCreating(null)} />
      )}
    </Stack>
  );
}
