import { Badge, Button, Card, Group, Select, Stack, Table, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "react-router";
import { api, call, type Schemas } from "../api/client";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { errorMessage } from "../lib/errors";
import { useI18n, type Key } from "../lib/i18n";
import { isAdmin, useMe } from "../lib/session";
import { formatMoney } from "../lib/store";

type PhoneNumber = Schemas["NumberOut"];

function CallerId({ numbers }: { numbers: PhoneNumber[] }) {
  const { t } = useI18n();
  const me = useMe();
  const qc = useQueryClient();
  const admin = isAdmin(me.data);
  const mine = useQuery({
    queryKey: ["phone-settings", "me"],
    queryFn: () => call(api.GET("/api/v1/phone-settings/me")),
  });
  const company = useQuery({
    queryKey: ["phone-settings"],
    queryFn: () => call(api.GET("/api/v1/phone-settings")),
    enabled: admin,
  });
  const onError = (e: unknown) => notifications.show({ color: "red", message: errorMessage(e) });
  const setMine = useMutation({
    mutationFn: (id: number | null) =>
      call(api.PUT("/api/v1/phone-settings/me", { body: { caller_id_number_id: id } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["phone-settings"] }),
    onError,
  });
  const setCompany = useMutation({
    mutationFn: (id: number | null) =>
      call(api.PATCH("/api/v1/phone-settings", { body: { caller_id_number_id: id } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["phone-settings"] }),
    onError,
  });
  const options = [
    { value: "", label: t("numbers.automatic") },
    ...numbers.filter((n) => n.state === "assigned").map((n) => ({ value: String(n.id), label: n.e164 })),
  ];
  if (mine.isPending) return <LoadingState />;
  if (mine.error) return <ErrorState error={mine.error} />;
  return (
    <Card withBorder>
      <Title order={4} mb="sm">
        {t("numbers.callerId")}
      </Title>
      <Group align="flex-end" wrap="wrap">
        <Select
          label={t("numbers.myCallerId")}
          data={options}
          allowDeselect={false}
          data-testid="my-caller-id"
          value={mine.data.caller_id_number_id ? String(mine.data.caller_id_number_id) : ""}
          onChange={(v) => setMine.mutate(v ? Number(v) : null)}
        />
        {admin && company.data && (
          <Select
            label={t("numbers.companyCallerId")}
            data={options}
            allowDeselect={false}
            value={company.data.caller_id_number_id ? String(company.data.caller_id_number_id) : ""}
            onChange={(v) => setCompany.mutate(v ? Number(v) : null)}
          />
        )}
      </Group>
      <Text size="sm" c="dimmed" mt="sm" data-testid="effective-caller-id">
        {mine.data.effective_caller_id
          ? t("numbers.effective", { number: mine.data.effective_caller_id })
          : t("numbers.anonymous")}
      </Text>
    </Card>
  );
}

export function NumbersPage() {
  const { t, lang, date } = useI18n();
  const navigate = useNavigate();
  const list = useQuery({
    queryKey: ["numbers", "mine"],
    queryFn: () => call(api.GET("/api/v1/numbers", { params: { query: { limit: 500 } } })),
  });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("numbers.title")}</Title>
        <Button variant="light" onClick={() => navigate("/store")}>
          {t("numbers.toStore")}
        </Button>
      </Group>
      {list.isPending ? (
        <LoadingState />
      ) : list.error ? (
        <ErrorState error={list.error} onRetry={() => list.refetch()} />
      ) : list.data.items.length === 0 ? (
        <EmptyState>{t("numbers.empty")}</EmptyState>
      ) : (
        <>
          <Card withBorder>
            <Table.ScrollContainer minWidth={600}>
              <Table data-testid="my-numbers">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>{t("store.number")}</Table.Th>
                    <Table.Th>{t("store.city")}</Table.Th>
                    <Table.Th>{t("store.type")}</Table.Th>
                    <Table.Th>{t("numbers.col.label")}</Table.Th>
                    <Table.Th>{t("store.monthly")}</Table.Th>
                    <Table.Th>{t("numbers.col.expires")}</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {list.data.items.map((n) => (
                    <Table.Tr key={n.id} data-testid="my-number" data-number={n.e164}>
                      <Table.Td ff="monospace">
                        {n.e164}{" "}
                        {n.expires_at && (
                          <Badge size="xs" variant="light" color="orange">
                            {t("store.kind.temporary_number")}
                          </Badge>
                        )}
                      </Table.Td>
                      <Table.Td>{[n.country, n.city].filter(Boolean).join(", ")}</Table.Td>
                      <Table.Td>{t(`store.type.${n.number_type}` as Key)}</Table.Td>
                      <Table.Td>{n.label}</Table.Td>
                      <Table.Td>{formatMoney(n.monthly_fee, n.currency, lang)}</Table.Td>
                      <Table.Td>{n.expires_at ? date(n.expires_at) : t("common.none")}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Card>
          <CallerId numbers={list.data.items} />
        </>
      )}
    </Stack>
  );
}
