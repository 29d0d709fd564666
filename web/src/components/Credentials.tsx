import {
  ActionIcon,
  Alert,
  Button,
  Code,
  CopyButton,
  Group,
  Modal,
  SimpleGrid,
  Stack,
  Text,
  Tooltip,
} from "@mantine/core";
import { IconCheck, IconCopy, IconDownload } from "@tabler/icons-react";
import { QRCodeSVG } from "qrcode.react";
import { useI18n } from "../lib/i18n";
import { useHealth, sipServer } from "../lib/directory";
import { downloadText, linphoneConfig, sipQrPayload } from "../lib/provisioning";

export interface ShownCredentials {
  title: string;
  sipUsername?: string;
  sipPassword?: string;
  realm?: string;
  cabinetEmail?: string;
  cabinetPassword?: string | null;
}

function Field({ label, value, testid }: { label: string; value: string; testid?: string }) {
  const { t } = useI18n();
  return (
    <Stack gap={2}>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Group gap={4} wrap="nowrap">
        <Code style={{ flex: 1, wordBreak: "break-all" }} data-testid={testid}>
          {value}
        </Code>
        <CopyButton value={value}>
          {({ copied, copy }) => (
            <Tooltip label={copied ? t("common.copied") : t("common.copy")}>
              <ActionIcon variant="subtle" onClick={copy} aria-label={t("common.copy")}>
                {copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
              </ActionIcon>
            </Tooltip>
          )}
        </CopyButton>
      </Group>
    </Stack>
  );
}

/** Shows secrets the API returns exactly once: SIP credentials (with QR) and a cabinet password. */
export function CredentialsModal({
  shown,
  onClose,
}: {
  shown: ShownCredentials | null;
  onClose: () => void;
}) {
  const { t } = useI18n();
  const health = useHealth();
  const server = sipServer(
    health.data?.sip?.public_address ?? health.data?.sip?.address,
    window.location.hostname,
  );
  const creds =
    shown?.sipUsername && shown.sipPassword
      ? {
          username: shown.sipUsername,
          password: shown.sipPassword,
          realm: shown.realm ?? "clickphone",
          server,
        }
      : null;
  return (
    <Modal opened={shown != null} onClose={onClose} title={shown?.title} size="lg" centered>
      {shown && (
        <Stack>
          <Alert color="yellow">{t("common.shownOnce")}</Alert>
          {shown.cabinetPassword && shown.cabinetEmail && (
            <SimpleGrid cols={{ base: 1, xs: 2 }}>
              <Field label={t("auth.email")} value={shown.cabinetEmail} />
              <Field
                label={t("employees.initialPassword")}
                value={shown.cabinetPassword}
                testid="cabinet-password"
              />
            </SimpleGrid>
          )}
          {creds && (
            <>
              <Text fw={600}>{t("devices.credentials")}</Text>
              <Text size="sm" c="dimmed">
                {t("devices.scan")}
              </Text>
              <Group align="flex-start" wrap="wrap" gap="lg">
                <QRCodeSVG
                  value={sipQrPayload(creds)}
                  size={168}
                  marginSize={2}
                  data-testid="sip-qr"
                  aria-label="QR"
                />
                <Stack gap="xs" style={{ flex: 1, minWidth: 220 }}>
                  <Field label={t("devices.server")} value={creds.server} testid="sip-server" />
                  <Field label={t("devices.username")} value={creds.username} testid="sip-username" />
                  <Field label={t("devices.password")} value={creds.password} testid="sip-password" />
                  <Field label={t("devices.domain")} value={creds.realm} />
                </Stack>
              </Group>
              <Group>
                <Button
                  variant="light"
                  leftSection={<IconDownload size={16} />}
                  onClick={() =>
                    downloadText(
                      `clickphone-${creds.username}.xml`,
                      linphoneConfig(creds),
                      "application/xml",
                    )
                  }
                >
                  {t("devices.link")} (Linphone XML)
                </Button>
              </Group>
            </>
          )}
          <Group justify="flex-end">
            <Button onClick={onClose} data-testid="credentials-close">
              {t("common.close")}
            </Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
}
