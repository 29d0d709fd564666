import {
  Alert,
  Button,
  Card,
  Group,
  PasswordInput,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, call } from "../api/client";
import { ErrorState, LoadingState } from "../components/States";
import { applyApiError } from "../lib/forms";
import { useI18n } from "../lib/i18n";
import { useMe } from "../lib/session";
import { DeviceState } from "./Devices";

function PersonalData() {
  const { t } = useI18n();
  const me = useMe();
  const qc = useQueryClient();
  const [formError, setFormError] = useState("");
  const individual = me.data?.tenant?.kind === "individual";
  const form = useForm({ initialValues: { full_name: "", position: "", email: "", nickname: "" } });
  useEffect(() => {
    if (!me.data) return;
    const u = me.data.user;
    form.setValues({
      full_name: u.full_name,
      position: u.position,
      email: u.email,
      nickname: u.nickname ?? "",
    });
    form.resetDirty();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [me.data]);
  const save = useMutation({
    mutationFn: (v: typeof form.values) =>
      call(
        api.PATCH("/api/v1/me", {
          body: individual
            ? { full_name: v.full_name, email: v.email, nickname: v.nickname || null }
            : { full_name: v.full_name, position: v.position, email: v.email },
        }),
      ),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["me"] });
      qc.invalidateQueries({ queryKey: ["employees"] });
      notifications.show({ color: "green", message: t("common.saved") });
    },
    onError: (e) => setFormError(applyApiError(form, e)),
  });
  return (
    <Card withBorder radius="md">
      <Title order={4} mb="sm">
        {t("profile.personal")}
      </Title>
      <form
        noValidate
        onSubmit={form.onSubmit((v) => {
          setFormError("");
          save.mutate(v);
        })}
      >
        <Stack>
          {formError && (
            <Alert color="red" role="alert">
              {formError}
            </Alert>
          )}
          <TextInput label={t("auth.fullName")} {...form.getInputProps("full_name")} data-testid="me-name" />
          {individual ? (
            <TextInput label={t("auth.nickname")} {...form.getInputProps("nickname")} />
          ) : (
            <TextInput label={t("auth.position")} {...form.getInputProps("position")} data-testid="me-position" />
          )}
          <TextInput label={t("auth.email")} type="email" {...form.getInputProps("email")} />
          <Group justify="flex-end">
            <Button type="submit" loading={save.isPending} disabled={!form.isDirty()} data-testid="me-save">
              {t("common.save")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

function PasswordChange() {
  const { t } = useI18n();
  const [formError, setFormError] = useState("");
  const form = useForm({
    initialValues: { current_password: "", new_password: "", repeat: "" },
    validate: { repeat: (v, all) => (v !== all.new_password ? t("profile.mismatch") : null) },
  });
  const change = useMutation({
    mutationFn: (v: typeof form.values) =>
      call(
        api.POST("/api/v1/me/password", {
          body: { current_password: v.current_password, new_password: v.new_password },
        }),
      ),
    onSuccess: () => {
      form.reset();
      notifications.show({ color: "green", message: t("profile.passwordChanged") });
    },
    onError: (e) => setFormError(applyApiError(form, e)),
  });
  return (
    <Card withBorder radius="md">
      <Title order={4} mb="sm">
        {t("profile.password")}
      </Title>
      <form
        noValidate
        onSubmit={form.onSubmit((v) => {
          setFormError("");
          change.mutate(v);
        })}
      >
        <Stack>
          {formError && (
            <Alert color="red" role="alert">
              {formError}
            </Alert>
          )}
          <PasswordInput
            label={t("profile.currentPassword")}
            autoComplete="current-password"
            {...form.getInputProps("current_password")}
          />
          <PasswordInput
            label={t("profile.newPassword")}
            description={t("auth.passwordHint")}
            autoComplete="new-password"
            {...form.getInputProps("new_password")}
          />
          <PasswordInput
            label={t("profile.repeatPassword")}
            autoComplete="new-password"
            {...form.getInputProps("repeat")}
          />
          <Group justify="flex-end">
            <Button type="submit" loading={change.isPending}>
              {t("common.save")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

function MyNumbers() {
  const { t } = useI18n();
  const numbers = useQuery({
    queryKey: ["me", "numbers"],
    queryFn: () => call(api.GET("/api/v1/me/numbers")),
  });
  const devices = useQuery({
    queryKey: ["devices", "mine"],
    queryFn: () => call(api.GET("/api/v1/me/devices", { params: { query: { limit: 100 } } })),
    refetchInterval: 5000,
  });
  return (
    <Card withBorder radius="md" style={{ alignSelf: "start" }}>
      <Title order={4} mb="sm">
        {t("profile.numbers")}
      </Title>
      {numbers.isPending ? (
        <LoadingState />
      ) : numbers.error ? (
        <ErrorState error={numbers.error} onRetry={() => numbers.refetch()} />
      ) : (
        <Stack gap="sm">
          <Group justify="space-between">
            <Text size="sm" c="dimmed">
              {t("profile.clickphoneNumber")}
            </Text>
            <Text fw={600} ff="monospace" data-testid="my-clickphone-number">
              {numbers.data.clickphone_number ?? "—"}
            </Text>
          </Group>
          <Group justify="space-between">
            <Text size="sm" c="dimmed">
              {t("profile.extension")}
            </Text>
            <Text fw={600} ff="monospace" data-testid="my-extension">
              {numbers.data.extension ?? "—"}
            </Text>
          </Group>
          <Text size="sm" c="dimmed">
            {t("profile.virtualNumbers")}
          </Text>
          {numbers.data.virtual_numbers.length === 0 ? (
            <Text size="sm">{t("profile.noVirtual")}</Text>
          ) : (
            <Table>
              <Table.Tbody>
                {numbers.data.virtual_numbers.map((n) => (
                  <Table.Tr key={n.id}>
                    <Table.Td ff="monospace">{n.e164}</Table.Td>
                    <Table.Td>{n.label}</Table.Td>
                    <Table.Td>{n.country}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Stack>
      )}
      {devices.data && devices.data.items.length > 0 && (
        <Stack gap="xs" mt="md">
          <Text size="sm" c="dimmed">
            {t("profile.myDevices")}
          </Text>
          {devices.data.items.map((d) => (
            <Group key={d.id} justify="space-between">
              <Text size="sm">
                {d.label || d.sip_username}{" "}
                <Text span size="xs" c="dimmed">
                  ({d.sip_username})
                </Text>
              </Text>
              <DeviceState device={d} />
            </Group>
          ))}
        </Stack>
      )}
    </Card>
  );
}

export function ProfilePage() {
  const { t } = useI18n();
  return (
    <Stack>
      <Title order={2}>{t("profile.title")}</Title>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Stack>
          <PersonalData />
          <PasswordChange />
        </Stack>
        <MyNumbers />
      </SimpleGrid>
    </Stack>
  );
}
