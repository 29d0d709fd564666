import {
  ActionIcon,
  AppShell,
  Avatar,
  Badge,
  Burger,
  Button,
  Group,
  Indicator,
  NavLink,
  SegmentedControl,
  Stack,
  Text,
  Tooltip,
  UnstyledButton,
} from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import {
  IconAddressBook,
  IconBuildingStore,
  IconHash,
  IconShoppingCart,
  IconChartBar,
  IconMicrophone,
  IconPhoneCall,
  IconActivity,
  IconArrowForwardUp,
  IconHierarchy2,
  IconHistory,
  IconLogout,
  IconMessage,
  IconMessages,
  IconSitemap,
  IconUser,
  IconUsers,
  IconDeviceAudioTape,
  IconWorldWww,
} from "@tabler/icons-react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Navigate, NavLink as RouterLink, Outlet, useLocation, useNavigate } from "react-router";
import { api, call } from "../api/client";
import { ApiError } from "../lib/errors";
import { useI18n, type Key, type Lang } from "../lib/i18n";
import { isAdmin, useMe } from "../lib/session";
import { useLiveStatus } from "../lib/live";
import { messagesApi, UNREAD_KEY } from "../lib/messages";
import { unreadBadge } from "../lib/store";
import { voicemailApi, VOICEMAIL_UNREAD_KEY } from "../lib/voicemail";
import { ErrorState, LoadingState } from "./States";
import { NotificationsMenu } from "./NotificationsMenu";

interface NavItem {
  to: string;
  label: Key;
  icon: typeof IconUser;
  company?: boolean;
  admin?: boolean;
  operator?: boolean; // ClickPhone office staff only
  customer?: boolean; // customers only (not office staff)
  badge?: () => React.ReactNode;
}
const NAV: NavItem[] = [
  { to: "/status", label: "nav.status", icon: IconActivity },
  { to: "/employees", label: "nav.employees", icon: IconUsers, company: true },
  { to: "/departments", label: "nav.departments", icon: IconSitemap, company: true },
  { to: "/contacts", label: "nav.contacts", icon: IconAddressBook },
  { to: "/messages", label: "nav.messages", icon: IconMessages, customer: true },
  { to: "/calls", label: "nav.calls", icon: IconPhoneCall },
  {
    to: "/voicemail",
    label: "nav.voicemail",
    icon: IconDeviceAudioTape,
    customer: true,
    badge: () => <VoicemailBadge />,
  },
  { to: "/reports/messages", label: "nav.messageHistory", icon: IconHistory, customer: true },
  { to: "/statistics", label: "nav.stats", icon: IconChartBar, admin: true },
  { to: "/logic", label: "nav.logic", icon: IconHierarchy2, company: true, admin: true },
  { to: "/widget-sites", label: "nav.widgetSites", icon: IconWorldWww, company: true, admin: true },
  { to: "/recordings", label: "nav.recordings", icon: IconMicrophone },
  { to: "/numbers", label: "nav.numbers", icon: IconHash, customer: true },
  { to: "/store", label: "nav.store", icon: IconShoppingCart, customer: true },
  { to: "/office", label: "nav.office", icon: IconBuildingStore, operator: true },
  { to: "/profile", label: "nav.profile", icon: IconUser },
  { to: "/forwarding", label: "nav.forwarding", icon: IconArrowForwardUp },
];

export function LanguageSwitch({ size = "xs" }: { size?: string }) {
  const { lang, setLang, t } = useI18n();
  return (
    <SegmentedControl
      size={size}
      aria-label={t("lang.label")}
      data-testid="lang-switch"
      value={lang}
      onChange={(v) => setLang(v as Lang)}
      data={[
        { value: "ru", label: "RU" },
        { value: "en", label: "EN" },
      ]}
    />
  );
}

function initials(name: string): string {
  return (
    name
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 2)
      .map((p) => p[0]!.toUpperCase())
      .join("") || "?"
  );
}

/** The Voicemail nav entry's badge: voicemails not listened to (refreshed by the live socket's
 * ``voicemail.created`` and by listening; polled slowly as a fallback). */
function VoicemailBadge() {
  const unread = useQuery({
    queryKey: VOICEMAIL_UNREAD_KEY,
    queryFn: voicemailApi.unread,
    refetchInterval: 60_000,
  });
  const badge = unreadBadge(unread.data?.unread ?? 0);
  if (!badge) return null;
  return (
    <Badge size="sm" color="red" variant="filled" circle={badge.length < 2} data-testid="voicemail-badge">
      {badge}
    </Badge>
  );
}

/** The header's Messages button: unread messages (refreshed by the live socket's message
 * events; polled slowly as a fallback) and the way to the Messages page. */
function MessagesButton() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const unread = useQuery({
    queryKey: UNREAD_KEY,
    queryFn: messagesApi.unread,
    refetchInterval: 60_000,
  });
  const count = unread.data?.unread ?? 0;
  const badge = unreadBadge(count);
  const label = count ? t("header.unreadMessages", { n: count }) : t("header.messages");
  return (
    <Tooltip label={label}>
      <Indicator label={badge} size={16} disabled={!badge} color="red" offset={4}>
        <ActionIcon
          variant="subtle"
          size="lg"
          aria-label={label}
          data-testid="messages-button"
          data-unread={count}
          onClick={() => navigate("/messages")}
        >
          <IconMessage size={20} />
        </ActionIcon>
      </Indicator>
    </Tooltip>
  );
}

export function Layout() {
  const [opened, { toggle, close }] = useDisclosure();
  const { t } = useI18n();
  const me = useMe();
  const location = useLocation();
  const navigate = useNavigate();
  const qc = useQueryClient();
  // one live socket for the signed-in cabinet: message and notification events refresh the
  // header's counters and the open conversation
  useLiveStatus(!!me.data);

  if (me.isPending) return <LoadingState />;
  if (me.error) {
    if (me.error instanceof ApiError && me.error.status === 401) {
      return <Navigate to="/signin" replace state={{ from: location.pathname }} />;
    }
    return <ErrorState error={me.error} onRetry={() => me.refetch()} />;
  }
  const { user, tenant } = me.data;
  const isCompany = tenant?.kind !== "individual";
  const isOperator = user.role === "operator_admin";
  const displayName = user.full_name || user.nickname || user.email;

  const signOut = async () => {
    try {
      await call(api.POST("/api/v1/auth/signout"));
    } finally {
      qc.clear();
      navigate("/signin", { replace: true });
    }
  };

  return (
    <AppShell
      header={{ height: 60 }}
      navbar={{ width: 230, breakpoint: "sm", collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap" gap="xs">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="menu" />
            <Text fw={800} size="lg" c="blue" visibleFrom="xs">
              ClickPhone
            </Text>
            {tenant && (
              <Tooltip label={tenant.name}>
                <Badge variant="light" size="lg" data-testid="customer-number">
                  <Text span size="xs" visibleFrom="md" inherit>
                    {t("header.customer")}{" "}
                  </Text>
                  {tenant.customer_number}
                </Badge>
              </Tooltip>
            )}
          </Group>
          <Group gap="xs" wrap="nowrap">
            {!isOperator && <MessagesButton />}
            <NotificationsMenu />
            <Group gap={6} wrap="nowrap" visibleFrom="xs">
              <LanguageSwitch />
            </Group>
            <UnstyledButton onClick={() => navigate("/profile")} data-testid="header-user">
              <Group gap={8} wrap="nowrap">
                <Avatar
                  radius="xl"
                  size={34}
                  color="blue"
                  src={user.has_avatar ? "/api/v1/me/avatar" : undefined}
                >
                  {initials(displayName)}
                </Avatar>
                <Stack gap={0} visibleFrom="sm" maw={200}>
                  <Text size="sm" fw={600} truncate>
                    {displayName}
                  </Text>
                  {user.position && (
                    <Text size="xs" c="dimmed" truncate>
                      {user.position}
                    </Text>
                  )}
                </Stack>
              </Group>
            </UnstyledButton>
            <Tooltip label={t("header.signout")}>
              <ActionIcon
                variant="subtle"
                color="gray"
                size="lg"
                aria-label={t("header.signout")}
                onClick={signOut}
                data-testid="signout"
              >
                <IconLogout size={20} />
              </ActionIcon>
            </Tooltip>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="sm">
        <Stack gap={4} style={{ flex: 1 }}>
          {NAV.filter(
            (n) =>
              (!n.company || isCompany) &&
              (!n.admin || isAdmin(me.data)) &&
              (!n.operator || isOperator) &&
              (!n.customer || !isOperator),
          ).map((n) => (
            <NavLink
              key={n.to}
              component={RouterLink}
              to={n.to}
              label={t(n.label)}
              leftSection={<n.icon size={18} />}
              rightSection={n.badge?.()}
              active={location.pathname.startsWith(n.to)}
              onClick={close}
            />
          ))}
        </Stack>
        <Stack gap="xs" hiddenFrom="xs" mt="md">
          <LanguageSwitch />
          <Button variant="subtle" color="gray" leftSection={<IconLogout size={16} />} onClick={signOut}>
            {t("header.signout")}
          </Button>
        </Stack>
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
