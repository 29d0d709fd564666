import { Alert, Button, Center, Group, Loader, Pagination, Stack, Text, ThemeIcon } from "@mantine/core";
import { IconAlertTriangle, IconInbox } from "@tabler/icons-react";
import type { ReactNode } from "react";
import { useI18n } from "../lib/i18n";
import { errorMessage } from "../lib/errors";

export function LoadingState({ label }: { label?: string }) {
  const { t } = useI18n();
  return (
    <Center py="xl" data-testid="loading">
      <Group gap="sm">
        <Loader size="sm" />
        <Text c="dimmed">{label ?? t("common.loading")}</Text>
      </Group>
    </Center>
  );
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  return (
    <Alert color="red" icon={<IconAlertTriangle size={18} />} title={t("common.error")} role="alert">
      <Stack gap="xs" align="flex-start">
        <Text size="sm">{errorMessage(error)}</Text>
        {onRetry && (
          <Button size="xs" variant="light" color="red" onClick={onRetry}>
            {t("common.retry")}
          </Button>
        )}
      </Stack>
    </Alert>
  );
}

export function EmptyState({ children, action }: { children: ReactNode; action?: ReactNode }) {
  return (
    <Center py="xl" data-testid="empty">
      <Stack align="center" gap="sm" maw={420}>
        <ThemeIcon size={48} radius="xl" variant="light" color="gray">
          <IconInbox size={26} />
        </ThemeIcon>
        <Text c="dimmed" ta="center">
          {children}
        </Text>
        {action}
      </Stack>
    </Center>
  );
}

export function Pager({
  total,
  offset,
  limit,
  onChange,
}: {
  total: number;
  offset: number;
  limit: number;
  onChange: (offset: number) => void;
}) {
  const { t } = useI18n();
  if (total <= limit) return null;
  const pages = Math.ceil(total / limit);
  const page = Math.floor(offset / limit) + 1;
  return (
    <Group justify="space-between" mt="md" wrap="wrap">
      <Text size="sm" c="dimmed">
        {t("pagination.of", { from: offset + 1, to: Math.min(offset + limit, total), total })}
      </Text>
      <Pagination total={pages} value={page} onChange={(p) => onChange((p - 1) * limit)} size="sm" />
    </Group>
  );
}

export function NotFound() {
  const { t } = useI18n();
  return <EmptyState>{t("notFound")}</EmptyState>;
}
