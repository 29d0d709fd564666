import {
  ActionIcon,
  Autocomplete,
  Button,
  Divider,
  Group,
  MultiSelect,
  NumberInput,
  Select,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconPlus, IconTrash } from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useMemo } from "react";
import { useAllDepartments, useAllEmployees } from "../../lib/directory";
import { errorMessage } from "../../lib/errors";
import {
  formatHoliday,
  IVR_KEYS,
  isHhmm,
  parseHoliday,
  RING_STRATEGIES,
  WEEKDAYS,
  type Duration,
  type FlowNode,
  type IvrMenuNode,
  type Problem,
  type TimeConditionNode,
} from "../../lib/flow";
import { flowApi, useFlowModules } from "../../lib/flowApi";
import { useI18n, type Key } from "../../lib/i18n";
import { problemText, typeName } from "./flowText";
import { NODE_META } from "./nodeMeta";
import { PromptPicker } from "./PromptPicker";

type Change = (node: FlowNode, renames?: Record<string, string>) => void;

function DurationInput({
  label,
  value,
  onChange,
  testId,
}: {
  label: string;
  value: Duration;
  onChange: (d: Duration) => void;
  testId?: string;
}) {
  const { t } = useI18n();
  return (
    <Group gap={6} align="flex-end" wrap="nowrap">
      <NumberInput
        style={{ flex: 1 }}
        label={label}
        min={0}
        max={3600}
        value={value.value}
        onChange={(v) => onChange({ ...value, value: typeof v === "number" ? v : Number(v) || 0 })}
        data-testid={testId}
      />
      <Select
        w={110}
        data={[
          { value: "seconds", label: t("flow.unit.seconds") },
          { value: "rings", label: t("flow.unit.rings") },
        ]}
        value={value.unit}
        allowDeselect={false}
        onChange={(v) => onChange({ ...value, unit: (v as Duration["unit"]) ?? "seconds" })}
        aria-label={t("flow.unit")}
      />
    </Group>
  );
}

function Members({
  employeeIds,
  departmentId,
  onChange,
}: {
  employeeIds: number[];
  departmentId: number | null;
  onChange: (v: { employee_ids: number[]; department_id: number | null }) => void;
}) {
  const { t } = useI18n();
  const employees = useAllEmployees();
  const departments = useAllDepartments();
  return (
    <>
      <MultiSelect
        label={t("flow.members")}
        searchable
        data={(employees.data ?? []).map((e) => ({
          value: String(e.id),
          label: e.extension ? `${e.full_name} (${e.extension})` : e.full_name,
        }))}
        value={employeeIds.map(String)}
        onChange={(v) => onChange({ employee_ids: v.map(Number), department_id: departmentId })}
        data-testid="prop-employees"
      />
      <Select
        label={t("flow.department")}
        clearable
        data={(departments.data ?? []).map((d) => ({ value: String(d.id), label: d.name }))}
        value={departmentId == null ? null : String(departmentId)}
        onChange={(v) => onChange({ employee_ids: employeeIds, department_id: v ? Number(v) : null })}
        data-testid="prop-department"
      />
    </>
  );
}

function TimeConditionFields({ node, onChange }: { node: TimeConditionNode; onChange: Change }) {
  const { t } = useI18n();
  const zones = useMemo(() => {
    try {
      return Intl.supportedValuesOf("timeZone");
    } catch {
      return ["UTC", "Europe/Moscow"];
    }
  }, []);
  const setDay = (day: (typeof WEEKDAYS)[number], ranges: { start: string; end: string }[]) => {
    const hours = { ...node.hours };
    if (ranges.length) hours[day] = ranges;
    else delete hours[day];
    onChange({ ...node, hours });
  };
  return (
    <>
      <Select
        label={t("flow.timezone")}
        searchable
        data={zones.includes(node.timezone) ? zones : [node.timezone, ...zones]}
        value={node.timezone}
        allowDeselect={false}
        onChange={(v) => v && onChange({ ...node, timezone: v })}
        data-testid="prop-timezone"
      />
      <Text size="sm" fw={500}>
        {t("flow.hours")}
      </Text>
      {WEEKDAYS.map((day) => {
        const ranges = node.hours[day] ?? [];
        return (
          <Stack key={day} gap={4}>
            <Group gap={6} justify="space-between">
              <Text size="sm" w={40}>
                {t(`flow.day.${day}` as Key)}
              </Text>
              {ranges.length === 0 && (
                <Text size="xs" c="dimmed" style={{ flex: 1 }}>
                  {t("flow.closedDay")}
                </Text>
              )}
              <ActionIcon
                size="sm"
                variant="subtle"
                aria-label={t("flow.addRange")}
                onClick={() => setDay(day, [...ranges, { start: "09:00", end: "18:00" }])}
              >
                <IconPlus size={14} />
              </ActionIcon>
            </Group>
            {ranges.map((r, i) => (
              <Group key={i} gap={4} wrap="nowrap" pl={40}>
                {(["start", "end"] as const).map((k) => (
                  <TextInput
                    key={k}
                    size="xs"
                    w={70}
                    value={r[k]}
                    error={!isHhmm(r[k])}
                    aria-label={`${day} ${k}`}
                    onChange={(e) =>
                      setDay(
                        day,
                        ranges.map((x, j) => (j === i ? { ...x, [k]: e.currentTarget.value } : x)),
                      )
                    }
                  />
                ))}
                <ActionIcon
                  size="sm"
                  variant="subtle"
                  color="red"
                  aria-label={t("common.delete")}
                  onClick={() => setDay(day, ranges.filter((_, j) => j !== i))}
                >
                  <IconTrash size={14} />
                </ActionIcon>
              </Group>
            ))}
          </Stack>
        );
      })}
      <TagsInput
        label={t("flow.holidays")}
        description={t("flow.holidaysHint")}
        value={node.holidays.map(formatHoliday)}
        onChange={(values) => {
          const parsed = values.map(parseHoliday);
          if (parsed.some((p) => p === null)) {
            notifications.show({ color: "red", message: t("flow.badHoliday") });
          }
          onChange({ ...node, holidays: [...new Set(parsed.filter((p): p is string => !!p))] });
        }}
        data-testid="prop-holidays"
      />
    </>
  );
}

function IvrFields({ node, onChange }: { node: IvrMenuNode; onChange: Change }) {
  const { t } = useI18n();
  const setChoices = (choices: IvrMenuNode["choices"], renames?: Record<string, string>) =>
    onChange({ ...node, choices }, renames);
  const free = IVR_KEYS.filter((k) => !node.choices.some((c) => c.digit === k));
  return (
    <>
      <PromptPicker label={t("flow.prompt")} value={node.prompt} onChange={(prompt) => onChange({ ...node, prompt })} testId="prop-prompt" />
      <Text size="sm" fw={500}>
        {t("flow.choices")}
      </Text>
      {node.choices.map((c, i) => (
        <Group key={i} gap={6} wrap="nowrap" data-testid="ivr-choice">
          <Select
            w={70}
            data={[...IVR_KEYS]}
            value={c.digit}
            allowDeselect={false}
            aria-label={t("flow.digit")}
            onChange={(v) => v && setChoices(node.choices.map((x, j) => (j === i ? { ...x, digit: v } : x)))}
          />
          <TextInput
            style={{ flex: 1 }}
            value={c.output}
            aria-label={t("flow.output")}
            placeholder={t("flow.output")}
            onChange={(e) => {
              const output = e.currentTarget.value;
              setChoices(
                node.choices.map((x, j) => (j === i ? { ...x, output } : x)),
                { [c.output]: output },
              );
            }}
            error={!c.output.trim()}
            data-testid="ivr-choice-output"
          />
          <ActionIcon
            variant="subtle"
            color="red"
            aria-label={t("common.delete")}
            onClick={() => setChoices(node.choices.filter((_, j) => j !== i))}
          >
            <IconTrash size={14} />
          </ActionIcon>
        </Group>
      ))}
      <Button
        size="xs"
        variant="light"
        leftSection={<IconPlus size={14} />}
        disabled={!free.length}
        onClick={() => setChoices([...node.choices, { digit: free[0], output: free[0] }])}
        data-testid="ivr-add-choice"
      >
        {t("flow.addChoice")}
      </Button>
      <Group grow>
        <NumberInput
          label={t("flow.timeout")}
          min={1}
          max={120}
          value={node.timeout}
          onChange={(v) => onChange({ ...node, timeout: Number(v) || 1 })}
        />
        <NumberInput
          label={t("flow.repeats")}
          min={0}
          max={10}
          value={node.repeats}
          onChange={(v) => onChange({ ...node, repeats: Number(v) || 0 })}
        />
      </Group>
    </>
  );
}

function ModuleFields({ node, onChange }: { node: FlowNode & { type: "module_switch" }; onChange: Change }) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const modules = useFlowModules();
  const all = modules.data?.modules ?? {};
  const toggle = useMutation({
    mutationFn: (on: boolean) => flowApi.setModules({ ...all, [node.module]: on }),
    onSuccess: (data) => qc.setQueryData(["flow-modules"], data),
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  return (
    <>
      <Autocomplete
        label={t("flow.module")}
        data={Object.keys(all)}
        value={node.module}
        onChange={(v) => onChange({ ...node, module: v })}
        data-testid="prop-module"
      />
      {node.module.trim() && (
        <Switch
          label={t("flow.moduleOn")}
          description={t("flow.moduleHint")}
          checked={all[node.module] ?? false}
          disabled={toggle.isPending || modules.isPending}
          onChange={(e) => toggle.mutate(e.currentTarget.checked)}
          data-testid="prop-module-toggle"
        />
      )}
    </>
  );
}

function Fields({ node, onChange }: { node: FlowNode; onChange: Change }) {
  const { t } = useI18n();
  switch (node.type) {
    case "time_condition":
      return <TimeConditionFields node={node} onChange={onChange} />;
    case "play":
      return <PromptPicker label={t("flow.prompt")} value={node.prompt} onChange={(prompt) => onChange({ ...node, prompt })} testId="prop-prompt" />;
    case "ivr_menu":
      return <IvrFields node={node} onChange={onChange} />;
    case "ring_group":
      return (
        <>
          <Members
            employeeIds={node.employee_ids}
            departmentId={node.department_id}
            onChange={(v) => onChange({ ...node, ...v })}
          />
          <Select
            label={t("flow.strategy")}
            data={RING_STRATEGIES.map((s) => ({ value: s, label: t(`flow.strategy.${s}` as Key) }))}
            value={node.strategy}
            allowDeselect={false}
            onChange={(v) => v && onChange({ ...node, strategy: v as typeof node.strategy })}
            data-testid="prop-strategy"
          />
          <DurationInput
            label={t("flow.ringTime")}
            value={node.ring_time}
            onChange={(ring_time) => onChange({ ...node, ring_time })}
            testId="prop-ring-time"
          />
        </>
      );
    case "forward":
      return (
        <>
          <TextInput
            label={t("flow.destination")}
            description={t("flow.destinationHint")}
            value={node.destination}
            onChange={(e) => onChange({ ...node, destination: e.currentTarget.value })}
            data-testid="prop-destination"
          />
          <DurationInput label={t("flow.delay")} value={node.delay} onChange={(delay) => onChange({ ...node, delay })} />
        </>
      );
    case "queue":
      return (
        <>
          <Members
            employeeIds={node.employee_ids}
            departmentId={node.department_id}
            onChange={(v) => onChange({ ...node, ...v })}
          />
          <PromptPicker
            label={t("flow.music")}
            withText={false}
            value={{ audio: node.music, text: null }}
            onChange={(p) => onChange({ ...node, music: p.audio ?? null })}
          />
          <Switch
            label={t("flow.announcePosition")}
            checked={node.announce_position}
            onChange={(e) => onChange({ ...node, announce_position: e.currentTarget.checked })}
          />
          <NumberInput
            label={t("flow.maxWait")}
            min={1}
            max={86400}
            value={node.max_wait}
            onChange={(v) => onChange({ ...node, max_wait: Number(v) || 1 })}
          />
        </>
      );
    case "voicemail":
      return (
        <>
          <PromptPicker label={t("flow.greeting")} value={node.greeting} onChange={(greeting) => onChange({ ...node, greeting })} />
          <Switch
            label={t("flow.notifyEmail")}
            checked={node.notify_email}
            onChange={(e) => onChange({ ...node, notify_email: e.currentTarget.checked })}
          />
          {node.notify_email && (
            <TagsInput label={t("flow.emails")} value={node.emails} onChange={(emails) => onChange({ ...node, emails })} />
          )}
        </>
      );
    case "module_switch":
      return <ModuleFields node={node} onChange={onChange} />;
    default:
      return (
        <Text size="sm" c="dimmed">
          {t("flow.noProps")}
        </Text>
      );
  }
}

/** The property panel of the selected node. */
export function NodePanel({
  node,
  problems,
  onChange,
  onDelete,
}: {
  node: FlowNode;
  problems: Problem[];
  onChange: Change;
  onDelete: () => void;
}) {
  const { t } = useI18n();
  const meta = NODE_META[node.type];
  return (
    <Stack gap="sm" data-testid="node-panel" data-node-id={node.id}>
      <Group justify="space-between" wrap="nowrap">
        <Group gap={6} wrap="nowrap">
          <meta.icon size={18} />
          <Title order={5}>{typeName(t, node.type)}</Title>
          <Text size="xs" c="dimmed">
            {node.id}
          </Text>
        </Group>
        <ActionIcon variant="subtle" color="red" aria-label={t("flow.deleteNode")} onClick={onDelete} data-testid="node-delete">
          <IconTrash size={16} />
        </ActionIcon>
      </Group>
      {problems.length > 0 && (
        <Stack gap={2} data-testid="node-panel-problems">
          {problems.map((p, i) => (
            <Text key={i} size="xs" c={p.severity === "error" ? "red" : "yellow.8"}>
              • {problemText(t, p)}
            </Text>
          ))}
        </Stack>
      )}
      <TextInput
        label={t("flow.label")}
        placeholder={typeName(t, node.type)}
        value={node.label ?? ""}
        onChange={(e) => onChange({ ...node, label: e.currentTarget.value })}
        data-testid="prop-label"
      />
      <Divider />
      <Fields node={node} onChange={onChange} />
    </Stack>
  );
}
