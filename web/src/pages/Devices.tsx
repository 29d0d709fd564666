import {
  ActionIcon,
  Badge,
  Button,
  Card,
  Drawer,
  Group,
  Stack,
  Switch,
  Text,
  TextInput,
  Tooltip,
} from "@mantine/core";
import { IconKey, IconPlus, IconTrash } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, call, type Device, type DeviceCreated, type Employee } from "../api/client";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import { confirmDanger } from "../lib/confirm";
import { errorMessage } from "../lib/errors";
import { useI18n } from "../lib/i18n";
import { notifications } from "@mantine/notifications";

export function DeviceState({ device }: { device: Device }) {
  const { t } = useI18n();
  if (!device.enabled) return <Badge color="gray">{t("devices.disabled")}</Badge>;
  return device.online ? (
    <Badge color="green" variant="light" data-testid="device-online">
      {t("devices.online")}
    </Badge>
  ) : (
    <Badge color="gray" variant="light" data-testid="device-offline">
      {t("devices.offline")}
    </Badge>
  );
}

function DeviceCard({
  device,
  onSecret,
}: {
  device: Device;
  onSecret: (d: DeviceCreated) => void;
}) {
  const { t, dateTime } = useI18n();
  const qc = useQueryClient();
  const refresh = () => qc.invalidateQueries({ queryKey: ["devices"] });
  const fail = (e: unknown) => notifications.show({ color: "red", message: errorMessage(e) });
  const rotate = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/devices/{device_id}/rotate", {
          params: { path: { device_id: device.id } },
          body: {},
        }),
      ),
    onSuccess: (d) => {
      refresh();
      onSecret(d);
    },
    onError: fail,
  });
  const toggle = useMutation({
    mutationFn: (enabled: boolean) =>
      call(
        api.PATCH("/api/v1/devices/{device_id}", {
          params: { path: { device_id: device.id } },
          body: { enabled },
        }),
      ),
    onSuccess: refresh,
    onError: fail,
  });
  const remove = useMutation({
    mutationFn: () =>
      call(api.DELETE("/api/v1/devices/{device_id}", { params: { path: { device_id: device.id } } })),
    onSuccess: refresh,
    onError: fail,
  });
  const name = device.label || device.sip_username;
  return (
    <Card withBorder radius="md" data-testid="device-card">
      <Stack gap="xs">
        <Group justify="space-between" wrap="nowrap">
          <Stack gap={0} style={{ minWidth: 0 }}>
            <Text fw={600} truncate>
              {name}
            </Text>
            <Text size="xs" c="dimmed">
              {t("devices.username")}: <b data-testid="device-username">{device.sip_username}</b>
            </Text>
          </Stack>
          <DeviceState device={device} />
        </Group>
        {device.registrations.map((r) => (
          <Stack gap={0} key={r.id}>
            <Text size="xs">
              {t("devices.userAgent")}: <span data-testid="device-ua">{r.user_agent || "—"}</span>
            </Text>
            <Text size="xs">
              {t("devices.address")}: {r.received_host}:{r.received_port} ({r.transport.toUpperCase()})
            </Text>
            <Text size="xs" c="dimmed">
              {t("devices.expires")}: {dateTime(r.expires_at)}
            </Text>
          </Stack>
        ))}
        <Group justify="space-between">
          <Switch
            size="sm"
            label={t("devices.enabled")}
            checked={device.enabled}
            onChange={(e) => toggle.mutate(e.currentTarget.checked)}
          />
          <Group gap={4}>
            <Button
              size="xs"
              variant="light"
              leftSection={<IconKey size={14} />}
              loading={rotate.isPending}
              data-testid="device-rotate"
              onClick={() =>
                confirmDanger({
                  title: t("devices.rotate"),
                  message: t("devices.rotateConfirm"),
                  confirm: t("devices.rotate"),
                  cancel: t("common.cancel"),
                  onConfirm: () => rotate.mutate(),
                })
              }
            >
              {t("devices.rotate")}
            </Button>
            <Tooltip label={t("common.delete")}>
              <ActionIcon
                color="red"
                variant="subtle"
                aria-label={t("common.delete")}
                onClick={() =>
                  confirmDanger({
                    title: t("common.delete"),
                    message: t("devices.deleteConfirm", { name }),
                    confirm: t("common.delete"),
                    cancel: t("common.cancel"),
                    onConfirm: () => remove.mutate(),
                  })
                }
              >
                <IconTrash size={16} />
              </ActionIcon>
            </Tooltip>
          </Group>
        </Group>
      </Stack>
    </Card>
  );
}

export function DevicesDrawer({
  employee,
  onClose,
  onSecret,
}: {
  employee: Employee | null;
  onClose: () => void;
  onSecret: (d: DeviceCreated) => void;
}) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [label, setLabel] = useState("");
  const [labelError, setLabelError] = useState("");
  const devices = useQuery({
    queryKey: ["devices", "employee", employee?.id],
    queryFn: () =>
      call(
        api.GET("/api/v1/employees/{employee_id}/devices", {
          params: { path: { employee_id: employee!.id }, query: { limit: 100 } },
        }),
      ),
    enabled: employee != null,
    refetchInterval: 3000,
  });
  const add = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/employees/{employee_id}/devices", {
          params: { path: { employee_id: employee!.id } },
          body: { label },
        }),
      ),
    onSuccess: (d) => {
      setLabel("");
      setLabelError("");
      qc.invalidateQueries({ queryKey: ["devices"] });
      onSecret(d);
    },
    onError: (e) => setLabelError(errorMessage(e)),
  });
  return (
    <Drawer
      opened={employee != null}
      onClose={onClose}
      position="right"
      size="md"
      title={employee ? t("devices.title", { name: employee.full_name }) : ""}
    >
      <Stack>
        <Group align="flex-end" wrap="nowrap">
          <TextInput
            style={{ flex: 1 }}
            label={t("devices.label")}
            placeholder="Softphone"
            value={label}
            error={labelError || undefined}
            onChange={(e) => setLabel(e.currentTarget.value)}
          />
          <Button
            leftSection={<IconPlus size={16} />}
            onClick={() => add.mutate()}
            loading={add.isPending}
            data-testid="device-add"
          >
            {t("devices.add")}
          </Button>
        </Group>
        {devices.isPending ? (
          <LoadingState />
        ) : devices.error ? (
          <ErrorState error={devices.error} onRetry={() => devices.refetch()} />
        ) : devices.data.items.length === 0 ? (
          <EmptyState>{t("devices.empty")}</EmptyState>
        ) : (
          devices.data.items.map((d) => <DeviceCard key={d.id} device={d} onSecret={onSecret} />)
        )}
      </Stack>
    </Drawer>
  );
}
