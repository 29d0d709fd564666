import { Button, Card, Group, Modal, SegmentedControl, Stack, TextInput, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, call, PAGE_SIZE, type Schemas } from "../api/client";
import { EmptyState, ErrorState, LoadingState, Pager } from "../components/States";
import { errorMessage } from "../lib/errors";
import { useI18n, type Key } from "../lib/i18n";
import { useMe } from "../lib/session";
import { RequestsTable } from "./Store";

type Order = Schemas["OrderOut"];
const STATES = ["pending", "approved", "rejected", "cancelled"] as const;

export function OfficePage() {
  const { t } = useI18n();
  const me = useMe();
  const qc = useQueryClient();
  const [state, setState] = useState<string>("pending");
  const [offset, setOffset] = useState(0);
  const [rejecting, setRejecting] = useState<Order | null>(null);
  const [reason, setReason] = useState("");
  const operator = me.data?.user.role === "operator_admin";
  const list = useQuery({
    queryKey: ["office", state, offset],
    queryFn: () =>
      call(
        api.GET("/api/v1/store/requests", {
          params: { query: { state, limit: PAGE_SIZE, offset, sort: "id" } },
        }),
      ),
    enabled: operator,
    placeholderData: keepPreviousData,
    refetchInterval: 15_000,
  });
  const decide = useMutation({
    mutationFn: ({ order, approve, note }: { order: Order; approve: boolean; note: string }) =>
      call(
        approve
          ? api.POST("/api/v1/store/requests/{request_id}/approve", {
              params: { path: { request_id: order.id } },
              body: { note },
            })
          : api.POST("/api/v1/store/requests/{request_id}/reject", {
              params: { path: { request_id: order.id } },
              body: { note },
            }),
      ),
    onSuccess: (order) => {
      notifications.show({
        color: order.state === "approved" ? "green" : "gray",
        message: t(order.state === "approved" ? "office.approved" : "office.rejected", {
          id: order.id,
        }),
      });
      setRejecting(null);
      setReason("");
      qc.invalidateQueries({ queryKey: ["office"] });
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  if (me.isPending) return <LoadingState />;
  if (!operator) return <EmptyState>{t("office.onlyStaff")}</EmptyState>;
  return (
    <Stack>
      <Title order={2}>{t("office.title")}</Title>
      <Card withBorder>
        <SegmentedControl
          mb="md"
          value={state}
          onChange={(v) => {
            setState(v);
            setOffset(0);
          }}
          data={STATES.map((s) => ({ value: s, label: t(`store.state.${s}` as Key) }))}
        />
        {list.isPending ? (
          <LoadingState />
        ) : list.error ? (
          <ErrorState error={list.error} onRetry={() => list.refetch()} />
        ) : list.data.items.length === 0 ? (
          <EmptyState>{t("office.empty")}</EmptyState>
        ) : (
          <>
            <RequestsTable
              office
              items={list.data.items}
              actions={(o) =>
                o.state === "pending" ? (
                  <Group gap="xs" wrap="nowrap" justify="flex-end">
                    <Button
                      size="xs"
                      color="green"
                      data-testid="approve"
                      loading={decide.isPending}
                      onClick={() => decide.mutate({ order: o, approve: true, note: "" })}
                    >
                      {t("office.approve")}
                    </Button>
                    <Button
                      size="xs"
                      variant="light"
                      color="red"
                      data-testid="reject"
                      onClick={() => setRejecting(o)}
                    >
                      {t("office.reject")}
                    </Button>
                  </Group>
                ) : null
              }
            />
            <Pager total={list.data.total} offset={offset} limit={PAGE_SIZE} onChange={setOffset} />
          </>
        )}
      </Card>
      <Modal
        opened={rejecting !== null}
        onClose={() => setRejecting(null)}
        title={t("office.rejectTitle", { id: rejecting?.id ?? "" })}
      >
        <Stack>
          <TextInput
            label={t("office.reason")}
            value={reason}
            data-autofocus
            data-testid="reject-reason"
            onChange={(e) => setReason(e.currentTarget.value)}
          />
          <Button
            color="red"
            loading={decide.isPending}
            data-testid="reject-confirm"
            onClick={() => rejecting && decide.mutate({ order: rejecting, approve: false, note: reason })}
          >
            {t("office.reject")}
          </Button>
        </Stack>
      </Modal>
    </Stack>
  );
}
