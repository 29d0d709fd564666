import {
  Badge,
  Button,
  Card,
  Group,
  Modal,
  NumberInput,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, call, PAGE_SIZE, type Schemas } from "../api/client";
import { EmptyState, ErrorState, LoadingState, Pager } from "../components/States";
import { errorMessage } from "../lib/errors";
import { useI18n, type Key } from "../lib/i18n";
import {
  formatMoney,
  kindLabel,
  requestSubject,
  stateColor,
  storeQuery,
  type RequestKind,
} from "../lib/store";

type StoreNumber = Schemas["StoreNumberOut"];
type Order = Schemas["OrderOut"];
const TYPES = ["local", "mobile", "national", "tollfree"] as const;
const PACKAGE_KINDS: RequestKind[] = ["sms_package", "tariff", "call_package"];

function useOrder() {
  const qc = useQueryClient();
  const { t } = useI18n();
  return useMutation({
    mutationFn: (body: Schemas["OrderIn"]) =>
      call(api.POST("/api/v1/store/requests", { body })),
    onSuccess: (order) => {
      notifications.show({ color: "green", message: t("store.ordered", { id: order.id }) });
      qc.invalidateQueries({ queryKey: ["store"] });
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
}

function Catalogue() {
  const { t, lang } = useI18n();
  const [country, setCountry] = useState("");
  const [city, setCity] = useState("");
  const [type, setType] = useState<string | null>(null);
  const [offset, setOffset] = useState(0);
  const [debCountry] = useDebouncedValue(country, 300);
  const [debCity] = useDebouncedValue(city, 300);
  const [temporary, setTemporary] = useState<StoreNumber | null>(null);
  const [days, setDays] = useState<number | string>(14);
  const order = useOrder();
  const query = storeQuery({ country: debCountry, city: debCity, type, offset, limit: PAGE_SIZE });
  const list = useQuery({
    queryKey: ["store", "numbers", query],
    queryFn: () => call(api.GET("/api/v1/store/numbers", { params: { query } })),
    placeholderData: keepPreviousData,
  });
  return (
    <Card withBorder>
      <Group align="flex-end" mb="md" wrap="wrap">
        <TextInput
          label={t("store.country")}
          placeholder={t("store.countryPh")}
          value={country}
          maxLength={2}
          w={110}
          data-testid="store-country"
          onChange={(e) => {
            setCountry(e.currentTarget.value);
            setOffset(0);
          }}
        />
        <TextInput
          label={t("store.city")}
          value={city}
          data-testid="store-city"
          onChange={(e) => {
            setCity(e.currentTarget.value);
            setOffset(0);
          }}
        />
        <Select
          label={t("store.type")}
          placeholder={t("store.anyType")}
          clearable
          value={type}
          onChange={(v) => {
            setType(v);
            setOffset(0);
          }}
          data={TYPES.map((v) => ({ value: v, label: t(`store.type.${v}` as Key) }))}
        />
      </Group>
      {list.isPending ? (
        <LoadingState />
      ) : list.error ? (
        <ErrorState error={list.error} onRetry={() => list.refetch()} />
      ) : list.data.items.length === 0 ? (
        <EmptyState>{t("store.empty")}</EmptyState>
      ) : (
        <>
          <Table.ScrollContainer minWidth={640}>
            <Table highlightOnHover data-testid="store-numbers">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("store.number")}</Table.Th>
                  <Table.Th>{t("store.country")}</Table.Th>
                  <Table.Th>{t("store.city")}</Table.Th>
                  <Table.Th>{t("store.type")}</Table.Th>
                  <Table.Th>{t("store.monthly")}</Table.Th>
                  <Table.Th>{t("store.setup")}</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {list.data.items.map((n) => (
                  <Table.Tr key={n.id} data-testid="store-number" data-number={n.e164}>
                    <Table.Td ff="monospace">{n.e164}</Table.Td>
                    <Table.Td>{n.country}</Table.Td>
                    <Table.Td>{n.city}</Table.Td>
                    <Table.Td>{t(`store.type.${n.number_type}` as Key)}</Table.Td>
                    <Table.Td>{formatMoney(n.monthly_fee, n.currency, lang)}</Table.Td>
                    <Table.Td>{formatMoney(n.setup_fee, n.currency, lang)}</Table.Td>
                    <Table.Td>
                      <Group gap="xs" justify="flex-end" wrap="nowrap">
                        <Button
                          size="xs"
                          loading={order.isPending}
                          data-testid="order-number"
                          onClick={() => order.mutate({ kind: "number", number_id: n.id, comment: "" })}
                        >
                          {t("store.order")}
                        </Button>
                        <Button size="xs" variant="light" onClick={() => setTemporary(n)}>
                          {t("store.orderTemporary")}
                        </Button>
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          <Pager total={list.data.total} offset={offset} limit={PAGE_SIZE} onChange={setOffset} />
        </>
      )}
      <Modal
        opened={temporary !== null}
        onClose={() => setTemporary(null)}
        title={t("store.temporaryTitle", { number: temporary?.e164 ?? "" })}
      >
        <Stack>
          <Text size="sm" c="dimmed">
            {t("store.temporaryHint")}
          </Text>
          <NumberInput label={t("store.days")} min={1} max={365} value={days} onChange={setDays} />
          <Button
            loading={order.isPending}
            onClick={() => {
              if (!temporary) return;
              order.mutate(
                {
                  kind: "temporary_number",
                  number_id: temporary.id,
                  comment: "",
                  details: { days: Number(days) || 1, country: temporary.country },
                },
                { onSuccess: () => setTemporary(null) },
              );
            }}
          >
            {t("store.order")}
          </Button>
        </Stack>
      </Modal>
    </Card>
  );
}

function Packages() {
  const { t } = useI18n();
  const [kind, setKind] = useState<RequestKind>("sms_package");
  const [name, setName] = useState("");
  const [comment, setComment] = useState("");
  const order = useOrder();
  return (
    <Card withBorder>
      <Title order={4} mb="sm">
        {t("store.packages")}
      </Title>
      <Group align="flex-end" wrap="wrap">
        <Select
          label={t("store.packageKind")}
          value={kind}
          allowDeselect={false}
          onChange={(v) => v && setKind(v as RequestKind)}
          data={PACKAGE_KINDS.map((k) => ({ value: k, label: kindLabel(k, t) }))}
        />
        <TextInput
          label={t("store.packageName")}
          placeholder={t("store.packageNamePh")}
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
        />
        <TextInput
          label={t("store.comment")}
          value={comment}
          onChange={(e) => setComment(e.currentTarget.value)}
        />
        <Button
          loading={order.isPending}
          disabled={!name.trim()}
          onClick={() =>
            order.mutate(
              { kind, details: { package: name.trim() }, comment },
              {
                onSuccess: () => {
                  setName("");
                  setComment("");
                },
              },
            )
          }
        >
          {t("store.request")}
        </Button>
      </Group>
    </Card>
  );
}

export function RequestsTable({
  items,
  office,
  actions,
}: {
  items: Order[];
  office?: boolean;
  actions?: (o: Order) => React.ReactNode;
}) {
  const { t, lang, dateTime, date } = useI18n();
  return (
    <Table.ScrollContainer minWidth={720}>
      <Table highlightOnHover data-testid={office ? "office-requests" : "my-requests"}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("store.col.id")}</Table.Th>
            {office && <Table.Th>{t("store.col.customer")}</Table.Th>}
            <Table.Th>{t("store.col.what")}</Table.Th>
            <Table.Th>{t("store.col.price")}</Table.Th>
            <Table.Th>{t("store.col.state")}</Table.Th>
            <Table.Th>{t("store.col.created")}</Table.Th>
            <Table.Th>{office ? t("store.comment") : t("store.col.note")}</Table.Th>
            {actions && <Table.Th />}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {items.map((o) => (
            <Table.Tr
              key={o.id}
              data-testid="request-row"
              data-request={o.id}
              data-state={o.state}
              data-number={o.number_e164 ?? ""}
            >
              <Table.Td>{o.id}</Table.Td>
              {office && <Table.Td ff="monospace">{o.customer_number}</Table.Td>}
              <Table.Td>
                <Text size="sm" fw={500}>
                  {kindLabel(o.kind, t)}
                </Text>
                <Text size="xs" c="dimmed" ff="monospace">
                  {requestSubject(o)}
                  {o.expires_at ? ` · ${t("store.expires", { date: date(o.expires_at) })}` : ""}
                </Text>
              </Table.Td>
              <Table.Td>
                {o.monthly_fee
                  ? t("store.perMonth", { price: formatMoney(o.monthly_fee, o.currency, lang) })
                  : t("common.none")}
              </Table.Td>
              <Table.Td>
                <Badge color={stateColor(o.state)} variant="light" data-testid="request-state">
                  {t(`store.state.${o.state}` as Key)}
                </Badge>
              </Table.Td>
              <Table.Td>{dateTime(o.created_at)}</Table.Td>
              <Table.Td>
                <Text size="sm">{office ? o.comment : o.decision_note}</Text>
              </Table.Td>
              {actions && <Table.Td>{actions(o)}</Table.Td>}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function MyRequests() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [offset, setOffset] = useState(0);
  const list = useQuery({
    queryKey: ["store", "requests", offset],
    queryFn: () =>
      call(
        api.GET("/api/v1/store/requests", {
          params: { query: { limit: PAGE_SIZE, offset, sort: "-id" } },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
  const cancel = useMutation({
    mutationFn: (id: number) =>
      call(api.POST("/api/v1/store/requests/{request_id}/cancel", { params: { path: { request_id: id } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["store"] }),
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  return (
    <Card withBorder>
      <Title order={4} mb="sm">
        {t("store.myRequests")}
      </Title>
      {list.isPending ? (
        <LoadingState />
      ) : list.error ? (
        <ErrorState error={list.error} onRetry={() => list.refetch()} />
      ) : list.data.items.length === 0 ? (
        <EmptyState>{t("store.noRequests")}</EmptyState>
      ) : (
        <>
          <RequestsTable
            items={list.data.items}
            actions={(o) =>
              o.state === "pending" ? (
                <Button
                  size="xs"
                  variant="subtle"
                  color="red"
                  loading={cancel.isPending}
                  onClick={() => cancel.mutate(o.id)}
                >
                  {t("store.cancel")}
                </Button>
              ) : null
            }
          />
          <Pager total={list.data.total} offset={offset} limit={PAGE_SIZE} onChange={setOffset} />
        </>
      )}
    </Card>
  );
}

export function StorePage() {
  const { t } = useI18n();
  return (
    <Stack>
      <Title order={2}>{t("store.title")}</Title>
      <Catalogue />
      <Packages />
      <MyRequests />
    </Stack>
  );
}
