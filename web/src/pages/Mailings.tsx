/** Mass mailings: SMS to many numbers or a chat message to many colleagues, now or later; the
 * list with counts, each mailing's recipients, repeat and cancel. Loaded lazily (App.tsx). */
import {
  Anchor,
  Badge,
  Button,
  Card,
  Checkbox,
  Drawer,
  Group,
  Menu,
  MultiSelect,
  SegmentedControl,
  Select,
  Stack,
  Switch,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconArrowLeft, IconRepeat, IconSend, IconX } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link } from "react-router";
import { api, call } from "../api/client";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { SmsCounter, StatusMark } from "../components/messages/parts";
import { confirmDanger } from "../lib/confirm";
import { ALL, useAllEmployees } from "../lib/directory";
import { errorMessage } from "../lib/errors";
import { useI18n, type Key } from "../lib/i18n";
import {
  CAMPAIGNS_KEY,
  campaignKey,
  campaignSummary,
  LINES_KEY,
  localInputValue,
  messagesApi,
  parseNumbers,
  scheduledIso,
  type Campaign,
} from "../lib/messages";
import { useMe } from "../lib/session";

const STATE_COLOR: Record<string, string> = {
  scheduled: "blue",
  sending: "yellow",
  done: "teal",
  cancelled: "gray",
};

function CampaignState({ status }: { status: string }) {
  const { t } = useI18n();
  return (
    <Badge variant="light" color={STATE_COLOR[status] ?? "gray"} data-testid="mailing-state" data-state={status}>
      {t(`mail.state.${status}` as Key)}
    </Badge>
  );
}

function NewMailing() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const me = useMe();
  const meId = me.data?.user.id;
  const [channel, setChannel] = useState<"sms" | "chat">("sms");
  const [name, setName] = useState("");
  const [numbersText, setNumbersText] = useState("");
  const [contactNumbers, setContactNumbers] = useState<string[]>([]);
  const [userIds, setUserIds] = useState<string[]>([]);
  const [allEmployees, setAllEmployees] = useState(false);
  const [line, setLine] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [translit, setTranslit] = useState(false);
  const [later, setLater] = useState(false);
  const [at, setAt] = useState("");
  const sms = channel === "sms";
  const lines = useQuery({ queryKey: LINES_KEY, queryFn: messagesApi.lines, enabled: sms });
  const employees = useAllEmployees(!sms);
  const contacts = useQuery({
    queryKey: ["contacts", "mailing"],
    queryFn: () => call(api.GET("/api/v1/contacts", { params: { query: { limit: ALL, sort: "name" } } })),
    enabled: sms,
  });
  const contactOptions = useMemo(
    () =>
      (contacts.data?.items ?? []).flatMap((c) =>
        c.numbers.map((n) => ({ value: n.number, label: `${c.name} · ${n.number}` })),
      ),
    [contacts.data],
  );
  const numbers = useMemo(
    () => parseNumbers([numbersText, ...contactNumbers].join("\n")),
    [numbersText, contactNumbers],
  );
  const colleagues = (employees.data ?? []).filter((e) => e.user_id !== meId);
  const recipients = sms ? numbers.length : allEmployees ? colleagues.length : userIds.length;
  const chosenLine = line ?? lines.data?.[0]?.e164 ?? null;
  const create = useMutation({
    mutationFn: () =>
      messagesApi.createCampaign({
        channel,
        name: name.trim(),
        text: text.trim(),
        numbers: sms ? numbers : [],
        user_ids: sms || allEmployees ? [] : userIds.map(Number),
        all_employees: !sms && allEmployees,
        line: sms ? chosenLine : null,
        translit,
        scheduled_at: later ? scheduledIso(at) : null,
      }),
    onSuccess: () => {
      notifications.show({ color: "green", message: t("mail.created") });
      setNumbersText("");
      setContactNumbers([]);
      setUserIds([]);
      setText("");
      setName("");
      void qc.invalidateQueries({ queryKey: ["messages"] });
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  const ready = recipients > 0 && text.trim() && (!later || scheduledIso(at));
  return (
    <Card withBorder data-testid="mailing-form">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (ready) create.mutate();
        }}
      >
        <Stack gap="sm">
          <Group justify="space-between">
            <Title order={4}>{t("mail.new")}</Title>
            <SegmentedControl
              value={channel}
              onChange={(v) => setChannel(v as "sms" | "chat")}
              data={[
                { value: "sms", label: t("mail.channel.sms") },
                { value: "chat", label: t("mail.channel.chat") },
              ]}
              data-testid="mailing-channel"
            />
          </Group>
          <TextInput label={t("mail.name")} value={name} onChange={(e) => setName(e.currentTarget.value)} data-testid="mailing-name" />
          {sms ? (
            <>
              <Textarea
                label={t("mail.numbers")}
                autosize
                minRows={3}
                maxRows={10}
                value={numbersText}
                onChange={(e) => setNumbersText(e.currentTarget.value)}
                placeholder={"+79991234567\n+79997654321"}
                data-testid="mailing-numbers"
              />
              <MultiSelect
                label={t("mail.fromContacts")}
                searchable
                data={contactOptions}
                value={contactNumbers}
                onChange={setContactNumbers}
                data-testid="mailing-contacts"
                comboboxProps={{ withinPortal: true }}
              />
              <Select
                label={t("msg.line")}
                data={(lines.data ?? []).map((l) => ({ value: l.e164, label: l.label ? `${l.e164} · ${l.label}` : l.e164 }))}
                value={chosenLine}
                onChange={setLine}
                allowDeselect={false}
                disabled={!lines.data?.length}
                error={lines.data && lines.data.length === 0 ? t("msg.noLines") : undefined}
                data-testid="mailing-line"
              />
            </>
          ) : (
            <>
              <Checkbox
                label={t("mail.allEmployees")}
                checked={allEmployees}
                onChange={(e) => setAllEmployees(e.currentTarget.checked)}
                data-testid="mailing-all"
              />
              {!allEmployees && (
                <MultiSelect
                  label={t("mail.colleagues")}
                  searchable
                  data={colleagues.map((e) => ({
                    value: String(e.user_id),
                    label: e.extension ? `${e.full_name} · ${e.extension}` : e.full_name,
                  }))}
                  value={userIds}
                  onChange={setUserIds}
                  data-testid="mailing-users"
                  comboboxProps={{ withinPortal: true }}
                />
              )}
            </>
          )}
          <Textarea
            label={t("msg.text")}
            autosize
            minRows={3}
            maxRows={10}
            value={text}
            onChange={(e) => setText(e.currentTarget.value)}
            required
            data-testid="mailing-text"
          />
          <Group gap="md" wrap="wrap">
            <Switch size="xs" label={t("msg.translit")} checked={translit} onChange={(e) => setTranslit(e.currentTarget.checked)} />
            {sms && <SmsCounter text={text} translit={translit} />}
          </Group>
          <Group gap="sm" align="flex-end" wrap="wrap">
            <SegmentedControl
              value={later ? "later" : "now"}
              onChange={(v) => {
                setLater(v === "later");
                if (v === "later" && !at) setAt(localInputValue(new Date(Date.now() + 60 * 60 * 1000)));
              }}
              data={[
                { value: "now", label: t("mail.now") },
                { value: "later", label: t("mail.schedule") },
              ]}
              data-testid="mailing-when"
            />
            {later && (
              <TextInput
                type="datetime-local"
                aria-label={t("msg.laterAt")}
                value={at}
                onChange={(e) => setAt(e.currentTarget.value)}
                data-testid="mailing-at"
              />
            )}
          </Group>
          <Group justify="space-between">
            <Text size="sm" c="dimmed" data-testid="mailing-recipients">
              {t("mail.recipients", { n: recipients })}
            </Text>
            <Button type="submit" disabled={!ready} loading={create.isPending} leftSection={<IconSend size={16} />} data-testid="mailing-send">
              {later ? t("mail.schedule.send") : t("mail.send")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

function CampaignActions({ camp, onRepeated }: { camp: Campaign; onRepeated: (id: number) => void }) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const sum = campaignSummary(camp.counts);
  const repeat = useMutation({
    mutationFn: (who: "failed" | "not_failed" | "all") => messagesApi.repeatCampaign(camp.id, who),
    onSuccess: (c) => {
      notifications.show({ color: "green", message: t("mail.repeated") });
      void qc.invalidateQueries({ queryKey: CAMPAIGNS_KEY });
      onRepeated(c.id);
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  const cancel = useMutation({
    mutationFn: () => messagesApi.cancelCampaign(camp.id),
    onSuccess: () => {
      notifications.show({ message: t("mail.cancelled") });
      void qc.invalidateQueries({ queryKey: ["messages"] });
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  return (
    <Group gap="xs" wrap="wrap">
      <Menu position="bottom-end" withinPortal>
        <Menu.Target>
          <Button size="xs" variant="light" leftSection={<IconRepeat size={14} />} loading={repeat.isPending} data-testid="mailing-repeat">
            {t("mail.repeat")}
          </Button>
        </Menu.Target>
        <Menu.Dropdown>
          <Menu.Item disabled={sum.failed === 0} onClick={() => repeat.mutate("failed")} data-testid="mailing-repeat-failed">
            {t("mail.repeatFailed")}
          </Menu.Item>
          <Menu.Item onClick={() => repeat.mutate("not_failed")} data-testid="mailing-repeat-others">
            {t("mail.repeatOthers")}
          </Menu.Item>
          <Menu.Item onClick={() => repeat.mutate("all")} data-testid="mailing-repeat-all">
            {t("mail.repeatAll")}
          </Menu.Item>
        </Menu.Dropdown>
      </Menu>
      {camp.status === "scheduled" && (
        <Button
          size="xs"
          variant="subtle"
          color="red"
          leftSection={<IconX size={14} />}
          loading={cancel.isPending}
          data-testid="mailing-cancel"
          onClick={() =>
            confirmDanger({
              title: t("mail.cancel"),
              message: t("mail.cancelConfirm"),
              confirm: t("mail.cancel"),
              cancel: t("common.cancel"),
              onConfirm: () => cancel.mutate(),
            })
          }
        >
          {t("mail.cancel")}
        </Button>
      )}
    </Group>
  );
}

function CampaignDetails({ id, onOpen }: { id: number; onOpen: (id: number) => void }) {
  const { t, dateTime } = useI18n();
  const employees = useAllEmployees();
  const detail = useQuery({ queryKey: campaignKey(id), queryFn: () => messagesApi.campaign(id) });
  const names = new Map((employees.data ?? []).map((e) => [e.user_id, e.full_name]));
  if (detail.isPending) return <LoadingState />;
  if (detail.error) return <ErrorState error={detail.error} onRetry={() => detail.refetch()} />;
  const c = detail.data;
  return (
    <Stack data-testid="mailing-details">
      <Group justify="space-between">
        <CampaignState status={c.status} />
        <Text size="sm" c="dimmed">
          {t(`mail.channel.${c.channel as "sms" | "chat"}`)}
          {c.line ? ` · ${c.line}` : ""}
        </Text>
      </Group>
      {c.scheduled_at && (
        <Text size="sm">{t("mail.at", { time: dateTime(c.scheduled_at) })}</Text>
      )}
      {c.repeat_of && (
        <Anchor size="sm" onClick={() => onOpen(c.repeat_of!)}>
          {t("mail.repeatOf", { id: c.repeat_of })}
        </Anchor>
      )}
      <Card withBorder padding="xs">
        <Text size="sm" style={{ whiteSpace: "pre-wrap" }}>
          {c.body}
        </Text>
      </Card>
      <CampaignActions camp={c} onRepeated={onOpen} />
      <Table fz="sm" striped data-testid="mailing-recipients-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("mail.col.recipient")}</Table.Th>
            <Table.Th>{t("mail.col.status")}</Table.Th>
            <Table.Th>{t("mail.col.error")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(c.recipients ?? []).map((r) => (
            <Table.Tr key={r.message_id} data-testid="mailing-recipient" data-status={r.status}>
              <Table.Td>
                {r.number ?? (r.user_id != null ? (names.get(r.user_id) ?? `#${r.user_id}`) : "—")}
              </Table.Td>
              <Table.Td>
                <StatusMark status={r.status} error={r.error} withLabel />
              </Table.Td>
              <Table.Td c="dimmed">{r.error || ""}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

export default function MailingsPage() {
  const { t, dateTime } = useI18n();
  const [open, setOpen] = useState<number | null>(null);
  const list = useQuery({ queryKey: CAMPAIGNS_KEY, queryFn: messagesApi.campaigns, refetchInterval: 30_000 });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("mail.title")}</Title>
        <Button component={Link} to="/messages" variant="subtle" leftSection={<IconArrowLeft size={16} />}>
          {t("mail.back")}
        </Button>
      </Group>
      <NewMailing />
      <Title order={4}>{t("mail.list")}</Title>
      {list.isPending ? (
        <LoadingState />
      ) : list.error ? (
        <ErrorState error={list.error} onRetry={() => list.refetch()} />
      ) : list.data.length === 0 ? (
        <EmptyState>{t("mail.empty")}</EmptyState>
      ) : (
        <Table.ScrollContainer minWidth={760}>
          <Table striped highlightOnHover fz="sm" data-testid="mailings">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("mail.col.created")}</Table.Th>
                <Table.Th>{t("mail.col.name")}</Table.Th>
                <Table.Th>{t("mail.col.channel")}</Table.Th>
                <Table.Th>{t("mail.col.status")}</Table.Th>
                <Table.Th ta="right">{t("mail.col.recipients")}</Table.Th>
                <Table.Th ta="right">{t("mail.col.delivered")}</Table.Th>
                <Table.Th ta="right">{t("mail.col.failed")}</Table.Th>
                <Table.Th ta="right">{t("mail.col.pending")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.data.map((c) => {
                const sum = campaignSummary(c.counts);
                return (
                  <Table.Tr
                    key={c.id}
                    style={{ cursor: "pointer" }}
                    onClick={() => setOpen(c.id)}
                    data-testid="mailing-row"
                    data-mailing-id={c.id}
                  >
                    <Table.Td style={{ whiteSpace: "nowrap" }}>{dateTime(c.created_at)}</Table.Td>
                    <Table.Td>
                      <Text size="sm" fw={500} lineClamp={1}>
                        {c.name || c.body}
                      </Text>
                      {c.scheduled_at && (
                        <Text size="xs" c="dimmed">
                          {t("mail.at", { time: dateTime(c.scheduled_at) })}
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>{t(`mail.channel.${c.channel as "sms" | "chat"}`)}</Table.Td>
                    <Table.Td>
                      <CampaignState status={c.status} />
                    </Table.Td>
                    <Table.Td ta="right">{sum.total}</Table.Td>
                    <Table.Td ta="right">{sum.delivered}</Table.Td>
                    <Table.Td ta="right" c={sum.failed ? "red" : undefined}>
                      {sum.failed}
                    </Table.Td>
                    <Table.Td ta="right">{sum.pending}</Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Drawer
        opened={open !== null}
        onClose={() => setOpen(null)}
        position="right"
        size="lg"
        title={t("mail.details")}
      >
        {open !== null && <CampaignDetails key={open} id={open} onOpen={setOpen} />}
      </Drawer>
    </Stack>
  );
}
