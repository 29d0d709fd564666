import {
  ActionIcon,
  Badge,
  Button,
  Card,
  FileButton,
  Group,
  Menu,
  SegmentedControl,
  Select,
  Stack,
  Switch,
  Text,
  TextInput,
  Title,
  Tooltip,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import {
  IconDownload,
  IconPencil,
  IconPhoneOutgoing,
  IconPlus,
  IconSearch,
  IconShare,
  IconStar,
  IconStarFilled,
  IconTrash,
  IconUpload,
} from "@tabler/icons-react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, call, PAGE_SIZE, type Contact } from "../api/client";
import { EmptyState, ErrorState, LoadingState, Pager } from "../components/States";
import { confirmDanger } from "../lib/confirm";
import {
  contactsToCsv,
  contactsToVcard,
  parseContactsFile,
  type ContactData,
} from "../lib/contact-io";
import { dialable } from "../lib/callback";
import { canCallBack, useCallBack } from "../lib/callbackApi";
import { ALL } from "../lib/directory";
import { errorMessage } from "../lib/errors";
import { useI18n } from "../lib/i18n";
import { downloadText } from "../lib/provisioning";
import { isAdmin, useMe } from "../lib/session";
import { ContactFormModal } from "./ContactForm";
import { ContactSharesModal } from "../components/ContactShares";

type Scope = "all" | "shared" | "personal";

async function fetchAllContacts(): Promise<Contact[]> {
  const out: Contact[] = [];
  for (let offset = 0; ; offset += ALL) {
    const page = await call(
      api.GET("/api/v1/contacts", { params: { query: { limit: ALL, offset } } }),
    );
    out.push(...page.items);
    if (out.length >= page.total || page.items.length === 0) return out;
  }
}

const toData = (c: Contact): ContactData => ({
  name: c.name,
  company: c.company,
  group: c.group,
  favorite: c.favorite,
  notes: c.notes,
  numbers: c.numbers.map((n) => ({ number: n.number, label: n.label })),
});

export function ContactsPage() {
  const { t } = useI18n();
  const me = useMe();
  const admin = isAdmin(me.data);
  const qc = useQueryClient();
  const [search, setSearch] = useState("");
  const [q] = useDebouncedValue(search.trim(), 250);
  const [scope, setScope] = useState<Scope>("all");
  const [favorite, setFavorite] = useState(false);
  const [group, setGroup] = useState<string | null>(null);
  const [offset, setOffset] = useState(0);
  const [editing, setEditing] = useState<Contact | null>(null);
  const [formOpen, setFormOpen] = useState(false);
  const [importing, setImporting] = useState(false);
  const [sharing, setSharing] = useState<Contact | null>(null);
  const myId = me.data?.user.id;
  const mayCallBack = canCallBack(me.data);
  const callBack = useCallBack();

  const list = useQuery({
    queryKey: ["contacts", { q, scope, favorite, group, offset }],
    queryFn: () =>
      call(
        api.GET("/api/v1/contacts", {
          params: {
            query: {
              q: q || undefined,
              scope: scope === "all" ? undefined : scope,
              favorite: favorite ? true : undefined,
              group: group ?? undefined,
              limit: PAGE_SIZE,
              offset,
              sort: "name",
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const everything = useQuery({ queryKey: ["contacts", "all"], queryFn: fetchAllContacts });
  const groups = [...new Set((everything.data ?? []).map((c) => c.group).filter(Boolean))].sort();

  const refresh = () => qc.invalidateQueries({ queryKey: ["contacts"] });
  const fail = (e: unknown) => notifications.show({ color: "red", message: errorMessage(e) });
  const toggleFavorite = useMutation({
    mutationFn: (c: Contact) =>
      call(
        api.PATCH("/api/v1/contacts/{contact_id}", {
          params: { path: { contact_id: c.id } },
          body: { favorite: !c.favorite },
        }),
      ),
    onSuccess: refresh,
    onError: fail,
  });
  const remove = useMutation({
    mutationFn: (c: Contact) =>
      call(api.DELETE("/api/v1/contacts/{contact_id}", { params: { path: { contact_id: c.id } } })),
    onSuccess: () => {
      refresh();
      notifications.show({ color: "green", message: t("common.deleted") });
    },
    onError: fail,
  });

  const doImport = async (file: File | null) => {
    if (!file) return;
    setImporting(true);
    try {
      const items = parseContactsFile(file.name, await file.text());
      if (items.length === 0) {
        notifications.show({ color: "yellow", message: t("contacts.importEmpty") });
        return;
      }
      let ok = 0;
      const reasons: string[] = [];
      for (const c of items) {
        try {
          await call(api.POST("/api/v1/contacts", { body: { ...c, shared: false } }));
          ok += 1;
        } catch (e) {
          reasons.push(`${c.name}: ${errorMessage(e)}`);
        }
      }
      notifications.show({
        color: ok === items.length ? "green" : "yellow",
        message: t("contacts.imported", { ok, total: items.length }),
      });
      if (reasons.length) {
        notifications.show({
          color: "red",
          autoClose: false,
          message: t("contacts.importFailed", { n: reasons.length, why: reasons.slice(0, 3).join("; ") }),
        });
      }
    } catch (e) {
      fail(e);
    } finally {
      setImporting(false);
      refresh();
    }
  };
  const doExport = async (kind: "csv" | "vcf") => {
    try {
      const all = (await fetchAllContacts()).map(toData);
      if (kind === "csv") downloadText("contacts.csv", "\uFEFF" + contactsToCsv(all), "text/csv");
      else downloadText("contacts.vcf", contactsToVcard(all), "text/vcard");
    } catch (e) {
      fail(e);
    }
  };

  const filtered = q || favorite || group || scope !== "all";
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("contacts.title")}</Title>
        <Group gap="xs">
          <FileButton onChange={doImport} accept=".csv,.vcf,.vcard,text/csv,text/vcard">
            {(props) => (
              <Button
                variant="default"
                leftSection={<IconUpload size={16} />}
                loading={importing}
                {...props}
              >
                {t("contacts.import")}
              </Button>
            )}
          </FileButton>
          <Menu>
            <Menu.Target>
              <Button variant="default" leftSection={<IconDownload size={16} />}>
                {t("contacts.export")}
              </Button>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Item onClick={() => doExport("csv")}>{t("contacts.exportCsv")}</Menu.Item>
              <Menu.Item onClick={() => doExport("vcf")}>{t("contacts.exportVcf")}</Menu.Item>
            </Menu.Dropdown>
          </Menu>
          <Button
            leftSection={<IconPlus size={16} />}
            onClick={() => {
              setEditing(null);
              setFormOpen(true);
            }}
            data-testid="contact-add"
          >
            {t("contacts.add")}
          </Button>
        </Group>
      </Group>
      <Group wrap="wrap" gap="sm">
        <TextInput
          leftSection={<IconSearch size={16} />}
          placeholder={t("contacts.searchPh")}
          aria-label={t("common.search")}
          value={search}
          onChange={(e) => {
            setSearch(e.currentTarget.value);
            setOffset(0);
          }}
          style={{ flex: 1 }}
          miw={220}
          data-testid="contact-search"
        />
        <SegmentedControl
          value={scope}
          onChange={(v) => {
            setScope(v as Scope);
            setOffset(0);
          }}
          data={[
            { value: "all", label: t("contacts.scope.all") },
            { value: "shared", label: t("contacts.scope.shared") },
            { value: "personal", label: t("contacts.scope.personal") },
          ]}
        />
        <Select
          placeholder={t("contacts.allGroups")}
          aria-label={t("contacts.group")}
          clearable
          data={groups}
          value={group}
          onChange={(v) => {
            setGroup(v);
            setOffset(0);
          }}
          w={180}
        />
        <Switch
          label={t("contacts.favorites")}
          checked={favorite}
          onChange={(e) => {
            setFavorite(e.currentTarget.checked);
            setOffset(0);
          }}
        />
      </Group>
      {list.isPending ? (
        <LoadingState />
      ) : list.error ? (
        <ErrorState error={list.error} onRetry={() => list.refetch()} />
      ) : list.data.items.length === 0 ? (
        <EmptyState>{filtered ? t("contacts.nothingFound") : t("contacts.empty")}</EmptyState>
      ) : (
        <Stack gap="xs" data-testid="contacts-list">
          {list.data.items.map((c) => {
            const mine = !c.shared && c.owner_user_id === myId;
            const sharedWithMe = !c.shared && !mine;
            const canEdit = c.shared ? admin : mine;
            return (
              <Card withBorder radius="md" p="sm" key={c.id} data-testid="contact-row">
                <Group justify="space-between" wrap="nowrap" align="flex-start">
                  <Group gap="sm" wrap="nowrap" align="flex-start" style={{ minWidth: 0 }}>
                    <ActionIcon
                      variant="subtle"
                      color="yellow"
                      aria-label={t("contacts.favorite")}
                      onClick={() => canEdit && toggleFavorite.mutate(c)}
                      disabled={!canEdit}
                    >
                      {c.favorite ? <IconStarFilled size={18} /> : <IconStar size={18} />}
                    </ActionIcon>
                    <Stack gap={2} style={{ minWidth: 0 }}>
                      <Group gap={6}>
                        <Text fw={600}>{c.name}</Text>
                        {c.company && (
                          <Text size="sm" c="dimmed">
                            {c.company}
                          </Text>
                        )}
                        {c.group && (
                          <Badge size="xs" variant="light">
                            {c.group}
                          </Badge>
                        )}
                        <Badge
                          size="xs"
                          variant="outline"
                          color={c.shared ? "blue" : sharedWithMe ? "teal" : "gray"}
                          data-testid="contact-scope"
                        >
                          {c.shared
                            ? t("contacts.scope.shared")
                            : sharedWithMe
                              ? t("contacts.sharedWithMe")
                              : t("contacts.scope.personal")}
                        </Badge>
                      </Group>
                      <Group gap="md">
                        {c.numbers.map((n) => (
                          <Group gap={4} wrap="nowrap" key={n.id}>
                            <Text size="sm">
                              <a href={`tel:${n.number}`}>{n.number}</a>
                              {n.label && (
                                <Text span size="xs" c="dimmed">
                                  {" "}
                                  {n.label}
                                </Text>
                              )}
                            </Text>
                            {mayCallBack && dialable(n.number) && (
                              <Tooltip label={`${t("callback.action")} ${n.number}`}>
                                <ActionIcon
                                  size="sm"
                                  variant="subtle"
                                  color="teal"
                                  aria-label={`${t("callback.action")} ${n.number}`}
                                  loading={callBack.isPending && callBack.variables === n.number}
                                  onClick={() => callBack.mutate(n.number)}
                                  data-testid="contact-callback"
                                >
                                  <IconPhoneOutgoing size={14} />
                                </ActionIcon>
                              </Tooltip>
                            )}
                          </Group>
                        ))}
                      </Group>
                      {c.notes && (
                        <Text size="xs" c="dimmed" lineClamp={2}>
                          {c.notes}
                        </Text>
                      )}
                    </Stack>
                  </Group>
                  {canEdit && (
                    <Group gap={2} wrap="nowrap">
                      {mine && me.data?.tenant?.kind !== "individual" && (
                        <Tooltip label={t("contacts.share.open")}>
                          <ActionIcon
                            variant="subtle"
                            aria-label={t("contacts.share.open")}
                            onClick={() => setSharing(c)}
                            data-testid="contact-share"
                          >
                            <IconShare size={16} />
                          </ActionIcon>
                        </Tooltip>
                      )}
                      <Tooltip label={t("common.edit")}>
                        <ActionIcon
                          variant="subtle"
                          aria-label={t("common.edit")}
                          onClick={() => {
                            setEditing(c);
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
                          onClick={() =>
                            confirmDanger({
                              title: t("common.confirmTitle"),
                              message: t("contacts.deleteConfirm", { name: c.name }),
                              confirm: t("common.delete"),
                              cancel: t("common.cancel"),
                              onConfirm: () => remove.mutate(c),
                            })
                          }
                        >
                          <IconTrash size={16} />
                        </ActionIcon>
                      </Tooltip>
                    </Group>
                  )}
                </Group>
              </Card>
            );
          })}
        </Stack>
      )}
      {list.data && (
        <Pager total={list.data.total} offset={offset} limit={PAGE_SIZE} onChange={setOffset} />
      )}
      <ContactFormModal
        opened={formOpen}
        contact={editing}
        groups={groups}
        canShare={admin}
        onClose={() => setFormOpen(false)}
      />
      <ContactSharesModal contact={sharing} myUserId={myId} onClose={() => setSharing(null)} />
    </Stack>
  );
}
