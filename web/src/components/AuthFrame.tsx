import { Box, Center, Group, Paper, Stack, Text, Title } from "@mantine/core";
import type { ReactNode } from "react";
import { useI18n } from "../lib/i18n";
import { LanguageSwitch } from "./Layout";

export function AuthFrame({ title, children }: { title: string; children: ReactNode }) {
  const { t } = useI18n();
  return (
    <Box mih="100vh" bg="var(--mantine-color-gray-0)" p="md">
      <Group justify="flex-end">
        <LanguageSwitch />
      </Group>
      <Center mt="lg">
        <Stack w="100%" maw={440} gap="md">
          <Stack gap={2} align="center">
            <Text fw={800} size="xl" c="blue">
              ClickPhone
            </Text>
            <Text c="dimmed" size="sm">
              {t("auth.tagline")}
            </Text>
          </Stack>
          <Paper withBorder shadow="sm" p="lg" radius="md">
            <Title order={2} size="h3" mb="md">
              {title}
            </Title>
            {children}
          </Paper>
        </Stack>
      </Center>
    </Box>
  );
}
