/** Personal cabinet: my call forwarding rules (/me/forwarding). */
import {
  ActionIcon,
  Alert,
  Button,
  Card,
  Group,
  NumberInput,
  Select,
  Stack,
  Switch,
  Text,
  TextInput,
  Title,
  Tooltip,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconArrowDown, IconArrowUp, IconPlus, IconTrash } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { ErrorState, LoadingState } from "../components/States";
import { errorMessage, fieldErrors } from "../lib/errors";
import { isDestination, moveItem, type Forwarding, type ForwardingStep } from "../lib/flow";
import { flowApi } from "../lib/flowApi";
import { useI18n } from "../lib/i18n";

const EMPTY: Forwarding = { enabled: false, steps: [] };

export function ForwardingPage() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const current = useQuery({ queryKey: ["me", "forwarding"], queryFn: flowApi.forwarding });
  const [value, setValue] = useState<Forwarding>(EMPTY);
  const [touched, setTouched] = useState(false);
  useEffect(() => {
    if (current.data) {
      setValue({ enabled: current.data.enabled, steps: current.data.steps ?? [] });
      setTouched(false);
    }
  }, [current.data]);
  const save = useMutation({
    mutationFn: (v: Forwarding) => flowApi.setForwarding(v),
    onSuccess: (saved) => {
      qc.setQueryData(["me", "forwarding"], saved);
      notifications.show({ color: "green", message: t("common.saved") });
    },
  });
  if (current.isPending) return <LoadingState />;
  if (current.error) return <ErrorState error={current.error} onRetry={() => current.refetch()} />;

  const edit = (next: Forwarding) => {
    setValue(next);
    setTouched(true);
  };
  const setStep = (i: number, step: ForwardingStep) =>
    edit({ ...value, steps: value.steps.map((s, j) => (j === i ? step : s)) });
  const server = fieldErrors(save.error);
  const bad = value.steps.map((s) => !isDestination(s.destination.trim()));
  const invalid = bad.some(Boolean) || (value.enabled && value.steps.length === 0);

  return (
    <Stack maw={760}>
      <Title order={2}>{t("fwd.title")}</Title>
      <Text size="sm" c="dimmed">
        {t("fwd.intro")}
      </Text>
      <Card withBorder>
        <Stack>
          <Switch
            size="md"
            label={t("fwd.enabled")}
            checked={value.enabled}
            onChange={(e) => edit({ ...value, enabled: e.currentTarget.checked })}
            data-testid="fwd-enabled"
          />
          {value.steps.length === 0 && (
            <Text size="sm" c="dimmed" data-testid="fwd-empty">
              {t("fwd.noSteps")}
            </Text>
          )}
          {value.steps.map((s, i) => {
            const err =
              server[`steps.${i}.destination`] ||
              (touched && bad[i] ? t("fwd.badDestination") : undefined);
            return (
              <Group key={i} align="flex-start" wrap="nowrap" gap="xs" data-testid="fwd-step">
                <Text fw={700} w={20} pt={30}>
                  {i + 1}
                </Text>
                <TextInput
                  style={{ flex: 1 }}
                  label={t("fwd.destination")}
                  placeholder="+79161234567"
                  value={s.destination}
                  error={err}
                  onChange={(e) => setStep(i, { ...s, destination: e.currentTarget.value })}
                  data-testid="fwd-destination"
                />
                <NumberInput
                  w={100}
                  label={i === 0 ? t("fwd.firstDelay") : t("fwd.delay")}
                  min={0}
                  max={3600}
                  value={s.delay.value}
                  error={server[`steps.${i}.delay.value`]}
                  onChange={(v) => setStep(i, { ...s, delay: { ...s.delay, value: Number(v) || 0 } })}
                  data-testid="fwd-delay"
                />
                <Select
                  w={110}
                  label={t("flow.unit")}
                  allowDeselect={false}
                  data={[
                    { value: "seconds", label: t("flow.unit.seconds") },
                    { value: "rings", label: t("flow.unit.rings") },
                  ]}
                  value={s.delay.unit}
                  onChange={(v) =>
                    v && setStep(i, { ...s, delay: { ...s.delay, unit: v as ForwardingStep["delay"]["unit"] } })
                  }
                  data-testid="fwd-unit"
                />
                <Stack gap={2} pt={24}>
                  <Group gap={2} wrap="nowrap">
                    <Tooltip label={t("fwd.up")}>
                      <ActionIcon
                        variant="subtle"
                        aria-label={t("fwd.up")}
                        disabled={i === 0}
                        onClick={() => edit({ ...value, steps: moveItem(value.steps, i, i - 1) })}
                        data-testid="fwd-up"
                      >
                        <IconArrowUp size={16} />
                      </ActionIcon>
                    </Tooltip>
                    <Tooltip label={t("fwd.down")}>
                      <ActionIcon
                        variant="subtle"
                        aria-label={t("fwd.down")}
                        disabled={i === value.steps.length - 1}
                        onClick={() => edit({ ...value, steps: moveItem(value.steps, i, i + 1) })}
                        data-testid="fwd-down"
                      >
                        <IconArrowDown size={16} />
                      </ActionIcon>
                    </Tooltip>
                    <Tooltip label={t("common.delete")}>
                      <ActionIcon
                        variant="subtle"
                        color="red"
                        aria-label={t("common.delete")}
                        onClick={() => edit({ ...value, steps: value.steps.filter((_, j) => j !== i) })}
                        data-testid="fwd-remove"
                      >
                        <IconTrash size={16} />
                      </ActionIcon>
                    </Tooltip>
                  </Group>
                </Stack>
              </Group>
            );
          })}
          <Group justify="space-between">
            <Button
              variant="light"
              leftSection={<IconPlus size={16} />}
              onClick={() =>
                edit({ ...value, steps: [...value.steps, { destination: "", delay: { value: 15, unit: "seconds" } }] })
              }
              data-testid="fwd-add"
            >
              {t("fwd.add")}
            </Button>
            <Button
              onClick={() => {
                setTouched(true);
                if (!invalid)
                  save.mutate({
                    enabled: value.enabled,
                    steps: value.steps.map((s) => ({ ...s, destination: s.destination.trim() })),
                  });
              }}
              loading={save.isPending}
              data-testid="fwd-save"
            >
              {t("common.save")}
            </Button>
          </Group>
          {touched && value.enabled && value.steps.length === 0 && (
            <Alert color="yellow">{t("fwd.needStep")}</Alert>
          )}
          {save.error && !Object.keys(server).length && (
            <Alert color="red" role="alert">
              {errorMessage(save.error)}
            </Alert>
          )}
        </Stack>
      </Card>
    </Stack>
  );
}

export default ForwardingPage;
