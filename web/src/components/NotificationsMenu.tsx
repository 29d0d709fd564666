import { ActionIcon, Button, Indicator, Menu, ScrollArea, Stack, Text, Tooltip } from "@mantine/core";
import { IconBell } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "react-router";
import { api, call } from "../api/client";
import { useI18n, type Key } from "../lib/i18n";
import { notificationLink } from "../lib/messages";
import { notificationText, unreadBadge } from "../lib/store";

type T = (key: Key, vars?: Record<string, string | number>) => string;

function textOf(n: { kind: string; title: string; data: Record<string, unknown> }, t: T): string {
  if (n.kind === "message.failed") {
    return t("notif.message.failed", { number: String(n.data["number"] ?? "") });
  }
  return notificationText(n, t);
}

/** The header's bell: the unread count, and the latest notifications in a menu. The live
 * socket's ``notification.created`` refreshes the count at once; the poll is the fallback. */
export function NotificationsMenu() {
  const { t, dateTime } = useI18n();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const unread = useQuery({
    queryKey: ["notifications", "unread"],
    queryFn: () => call(api.GET("/api/v1/notifications/unread")),
    refetchInterval: 20_000,
  });
  const list = useQuery({
    queryKey: ["notifications", "list"],
    queryFn: () => call(api.GET("/api/v1/notifications", { params: { query: { limit: 10 } } })),
    enabled: false,
  });
  const markAll = useMutation({
    mutationFn: () => call(api.POST("/api/v1/notifications/read", { body: {} })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["notifications"] }),
  });
  const markOne = useMutation({
    mutationFn: (id: number) =>
      call(api.POST("/api/v1/notifications/{notification_id}/read", { params: { path: { notification_id: id } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ["notifications"] }),
  });
  const count = unread.data?.unread ?? 0;
  const badge = unreadBadge(count);
  return (
    <Menu width={340} position="bottom-end" onOpen={() => list.refetch()} withinPortal>
      <Menu.Target>
        <Tooltip label={t("notif.title")}>
          <Indicator label={badge} size={16} disabled={!badge} color="red" offset={4}>
            <ActionIcon
              variant="subtle"
              size="lg"
              aria-label={t("notif.title")}
              data-testid="notifications-button"
              data-unread={count}
            >
              <IconBell size={20} />
            </ActionIcon>
          </Indicator>
        </Tooltip>
      </Menu.Target>
      <Menu.Dropdown data-testid="notifications-menu">
        <Menu.Label>
          {t("notif.title")}
          {count > 0 ? ` · ${t("notif.unread", { n: count })}` : ""}
        </Menu.Label>
        <ScrollArea.Autosize mah={360}>
          {list.data && list.data.items.length === 0 && (
            <Text size="sm" c="dimmed" p="sm">
              {t("notif.empty")}
            </Text>
          )}
          {list.data?.items.map((n) => (
            <Menu.Item
              key={n.id}
              data-testid="notification"
              data-kind={n.kind}
              data-unread={n.read_at ? "no" : "yes"}
              onClick={() => {
                if (!n.read_at) markOne.mutate(n.id);
                const link = notificationLink(n);
                if (link) navigate(link);
              }}
            >
              <Stack gap={0}>
                <Text size="sm" fw={n.read_at ? 400 : 700}>
                  {textOf(n, t)}
                </Text>
                {n.body && (
                  <Text size="xs" c="dimmed" lineClamp={2}>
                    {n.body}
                  </Text>
                )}
                <Text size="xs" c="dimmed">
                  {dateTime(n.created_at)}
                </Text>
              </Stack>
            </Menu.Item>
          ))}
        </ScrollArea.Autosize>
        {count > 0 && (
          <>
            <Menu.Divider />
            <Button variant="subtle" size="xs" fullWidth onClick={() => markAll.mutate()}>
              {t("notif.markAll")}
            </Button>
          </>
        )}
      </Menu.Dropdown>
    </Menu>
  );
}
