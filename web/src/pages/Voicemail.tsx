import {
  ActionIcon,
  Badge,
  Button,
  Card,
  Group,
  SegmentedControl,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  Tooltip,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { IconChecks, IconPhoneOutgoing, IconSearch, IconTrash } from "@tabler/icons-react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { PAGE_SIZE } from "../api/client";
import { EmptyState, ErrorState, LoadingState, Pager } from "../components/States";
import { canCallBack, useCallBack } from "../lib/callbackApi";
import { confirmDanger } from "../lib/confirm";
import { formatDuration } from "../lib/dates";
import { errorMessage } from "../lib/errors";
import { useI18n } from "../lib/i18n";
import { useMe } from "../lib/session";
import {
  callerLabel,
  markedRead,
  voicemailApi,
  voicemailAudioUrl,
  voicemailCallBack,
  VOICEMAIL_KEY,
  VOICEMAIL_LIST_KEY,
  VOICEMAIL_UNREAD_KEY,
  type Voicemail,
  type VoicemailPage,
} from "../lib/voicemail";

/** The voicemail inbox: newest first, unread in bold; playing one marks it listened. */
export default function VoicemailPage() {
  const { t, dateTime } = useI18n();
  const me = useMe();
  const qc = useQueryClient();
  const mayCallBack = canCallBack(me.data);
  const callBack = useCallBack();
  const [search, setSearch] = useState("");
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [offset, setOffset] = useState(0);
  const [q] = useDebouncedValue(search.trim(), 300);
  const filters = { q, unread: unreadOnly, offset, limit: PAGE_SIZE };

  const list = useQuery({
    queryKey: [...VOICEMAIL_LIST_KEY, filters],
    queryFn: () => voicemailApi.list(filters),
    placeholderData: keepPreviousData,
  });

  const markOne = useMutation({
    mutationFn: (id: string) => voicemailApi.markRead(id),
    onSuccess: (out, id) => {
      // keep the row in place (also under "unread"): patch the cache, refresh the counter
      qc.setQueriesData<VoicemailPage>({ queryKey: VOICEMAIL_LIST_KEY }, (page) =>
        markedRead(page, id, out.read_at ?? new Date().toISOString()),
      );
      void qc.invalidateQueries({ queryKey: VOICEMAIL_UNREAD_KEY });
    },
  });
  const markAll = useMutation({
    mutationFn: () => voicemailApi.markAllRead(),
    onSuccess: () => {
      notifications.show({ color: "green", message: t("vm.markedAll") });
      void qc.invalidateQueries({ queryKey: VOICEMAIL_KEY });
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  const remove = useMutation({
    mutationFn: (id: string) => voicemailApi.remove(id),
    onSuccess: () => {
      notifications.show({ color: "green", message: t("vm.deleted") });
      void qc.invalidateQueries({ queryKey: VOICEMAIL_KEY });
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });

  const played = (v: Voicemail) => {
    if (!v.read_at && !(markOne.isPending && markOne.variables === v.id)) markOne.mutate(v.id);
  };
  const askDelete = (v: Voicemail) =>
    confirmDanger({
      title: t("vm.delete"),
      message: t("vm.deleteConfirm", { caller: callerLabel(v) ?? t("vm.unknownCaller") }),
      confirm: t("common.delete"),
      cancel: t("common.cancel"),
      onConfirm: () => remove.mutate(v.id),
    });

  // the last row of the last page deleted: step back a page
  const total = list.data?.total;
  useEffect(() => {
    if (total !== undefined && offset > 0 && offset >= total) {
      setOffset(Math.max(0, Math.floor((total - 1) / PAGE_SIZE) * PAGE_SIZE));
    }
  }, [total, offset]);

  const unread = list.data?.unread ?? 0;
  const filtered = !!q || unreadOnly;

  return (
    <Stack>
      <Group justify="space-between">
        <Group gap="sm">
          <Title order={2}>{t("vm.title")}</Title>
          {unread > 0 && (
            <Badge color="red" variant="light" data-testid="vm-unread-count">
              {t("vm.unreadN", { n: unread })}
            </Badge>
          )}
        </Group>
        <Button
          variant="default"
          leftSection={<IconChecks size={16} />}
          disabled={unread === 0}
          loading={markAll.isPending}
          onClick={() => markAll.mutate()}
          data-testid="vm-mark-all"
        >
          {t("vm.markAll")}
        </Button>
      </Group>
      <Card withBorder padding="sm">
        <Group wrap="wrap" gap="sm" align="flex-end">
          <TextInput
            label={t("common.search")}
            leftSection={<IconSearch size={16} />}
            placeholder={t("vm.searchPh")}
            value={search}
            onChange={(e) => {
              setSearch(e.currentTarget.value);
              setOffset(0);
            }}
            style={{ flex: 1 }}
            miw={200}
            data-testid="vm-search"
          />
          <SegmentedControl
            value={unreadOnly ? "unread" : "all"}
            onChange={(v) => {
              setUnreadOnly(v === "unread");
              setOffset(0);
            }}
            data={[
              { value: "all", label: t("vm.filter.all") },
              { value: "unread", label: t("vm.filter.unread") },
            ]}
            data-testid="vm-filter"
          />
        </Group>
      </Card>
      {list.isPending ? (
        <LoadingState />
      ) : list.error ? (
        <ErrorState error={list.error} onRetry={() => list.refetch()} />
      ) : list.data.items.length === 0 ? (
        <EmptyState>{filtered ? t("vm.nothingFound") : t("vm.empty")}</EmptyState>
      ) : (
        <>
          <Text size="sm" c="dimmed" data-testid="vm-total" data-total={list.data.total}>
            {t("vm.total", { n: list.data.total })}
          </Text>
          <Table.ScrollContainer minWidth={860}>
            <Table striped highlightOnHover fz="sm" data-testid="vm-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("vm.col.date")}</Table.Th>
                  <Table.Th>{t("vm.col.caller")}</Table.Th>
                  <Table.Th>{t("vm.col.callee")}</Table.Th>
                  <Table.Th ta="right">{t("vm.col.duration")}</Table.Th>
                  <Table.Th>{t("vm.col.listen")}</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {list.data.items.map((v) => {
                  const isNew = !v.read_at;
                  const fw = isNew ? 700 : 400;
                  const back = mayCallBack ? voicemailCallBack(v) : null;
                  return (
                    <Table.Tr
                      key={v.id}
                      data-testid="vm-row"
                      data-id={v.id}
                      data-unread={isNew ? "yes" : "no"}
                    >
                      <Table.Td style={{ whiteSpace: "nowrap" }}>
                        <Text size="sm" fw={fw} span>
                          {dateTime(v.created_at)}
                        </Text>
                        {isNew && (
                          <Badge size="xs" color="red" variant="filled" ml={6}>
                            {t("vm.new")}
                          </Badge>
                        )}
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm" fw={fw} data-testid="vm-caller">
                          {v.caller_name && v.caller_name !== v.caller ? (
                            <>
                              {v.caller_name}{" "}
                              <Text span size="sm" c="dimmed" fw={fw}>
                                {v.caller}
                              </Text>
                            </>
                          ) : (
                            v.caller || t("vm.unknownCaller")
                          )}
                        </Text>
                      </Table.Td>
                      <Table.Td data-testid="vm-callee">
                        <Text size="sm" fw={fw}>
                          {v.callee || "—"}
                        </Text>
                      </Table.Td>
                      <Table.Td ta="right" data-testid="vm-duration">
                        <Text size="sm" fw={fw}>
                          {formatDuration(v.seconds)}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <audio
                          controls
                          preload="none"
                          src={voicemailAudioUrl(v.id)}
                          onPlay={() => played(v)}
                          aria-label={`${t("vm.col.listen")}: ${callerLabel(v) ?? t("vm.unknownCaller")}`}
                          data-testid="vm-audio"
                          style={{ width: 260, height: 36, display: "block" }}
                        />
                      </Table.Td>
                      <Table.Td>
                        <Group gap={4} wrap="nowrap" justify="flex-end">
                          {back && (
                            <Tooltip label={`${t("callback.action")} ${back}`}>
                              <ActionIcon
                                variant="subtle"
                                color="teal"
                                aria-label={`${t("callback.action")} ${back}`}
                                loading={callBack.isPending && callBack.variables === back}
                                onClick={() => callBack.mutate(back)}
                                data-testid="vm-callback"
                              >
                                <IconPhoneOutgoing size={16} />
                              </ActionIcon>
                            </Tooltip>
                          )}
                          <Tooltip label={t("vm.delete")}>
                            <ActionIcon
                              variant="subtle"
                              color="red"
                              aria-label={t("vm.delete")}
                              loading={remove.isPending && remove.variables === v.id}
                              onClick={() => askDelete(v)}
                              data-testid="vm-delete"
                            >
                              <IconTrash size={16} />
                            </ActionIcon>
                          </Tooltip>
                        </Group>
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Pager total={list.data.total} offset={offset} limit={PAGE_SIZE} onChange={setOffset} />
        </>
      )}
    </Stack>
  );
}
