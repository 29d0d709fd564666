import { Badge, Button, Drawer, Group, Paper, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconArrowBackUp } from "@tabler/icons-react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { EmptyState, ErrorState, LoadingState } from "../States";
import { confirmDanger } from "../../lib/confirm";
import { errorMessage } from "../../lib/errors";
import { flowApi, type Flow } from "../../lib/flowApi";
import { useI18n } from "../../lib/i18n";

/** Published versions, newest first; rolling back makes that version the draft again. */
export function VersionsDrawer({
  flow,
  opened,
  onClose,
  onRolledBack,
}: {
  flow: Flow;
  opened: boolean;
  onClose: () => void;
  onRolledBack: (flow: Flow) => void;
}) {
  const { t, dateTime } = useI18n();
  const versions = useQuery({
    queryKey: ["flows", flow.id, "versions"],
    queryFn: () => flowApi.versions(flow.id),
    enabled: opened,
  });
  const rollback = useMutation({
    // The server publishes a copy of version n as a new version; reload the whole flow.
    mutationFn: async (n: number) => {
      await flowApi.rollback(flow.id, n);
      return flowApi.get(flow.id);
    },
    onSuccess: (f, n) => {
      versions.refetch();
      notifications.show({ color: "green", message: t("flow.rolledBack", { n }) });
      onRolledBack(f);
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  const list = [...(versions.data ?? [])].sort((a, b) => b.version - a.version);
  return (
    <Drawer opened={opened} onClose={onClose} position="right" title={t("flow.history")} data-testid="versions-drawer">
      {versions.isPending ? (
        <LoadingState />
      ) : versions.error ? (
        <ErrorState error={versions.error} onRetry={() => versions.refetch()} />
      ) : list.length === 0 ? (
        <EmptyState>{t("flow.noVersions")}</EmptyState>
      ) : (
        <Stack gap="xs">
          {list.map((v) => (
            <Paper key={v.version} withBorder p="sm" data-testid="flow-version" data-version={v.version}>
              <Group justify="space-between" wrap="nowrap">
                <Stack gap={0}>
                  <Group gap={6}>
                    <Text fw={600}>{t("flow.versionN", { n: v.version })}</Text>
                    {(v.current ?? v.version === flow.published_version) && (
                      <Badge size="sm" color="green" variant="light">
                        {t("flow.live")}
                      </Badge>
                    )}
                  </Group>
                  <Text size="xs" c="dimmed">
                    {dateTime(v.published_at)}
                    {v.published_by_name ? ` · ${v.published_by_name}` : ""}
                    {v.rollback_of != null ? ` · ${t("flow.rollbackOf", { n: v.rollback_of })}` : ""}
                  </Text>
                </Stack>
                <Button
                  size="xs"
                  variant="light"
                  leftSection={<IconArrowBackUp size={14} />}
                  loading={rollback.isPending && rollback.variables === v.version}
                  onClick={() =>
                    confirmDanger({
                      title: t("common.confirmTitle"),
                      message: t("flow.rollbackConfirm", { n: v.version }),
                      confirm: t("flow.rollback"),
                      cancel: t("common.cancel"),
                      onConfirm: () => rollback.mutate(v.version),
                    })
                  }
                  data-testid="version-rollback"
                >
                  {t("flow.rollback")}
                </Button>
              </Group>
            </Paper>
          ))}
        </Stack>
      )}
    </Drawer>
  );
}
