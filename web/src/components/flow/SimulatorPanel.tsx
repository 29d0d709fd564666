import { Alert, Badge, Button, Group, Select, Stack, Text, TextInput } from "@mantine/core";
import { IconPlayerPlay, IconX } from "@tabler/icons-react";
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { errorMessage } from "../../lib/errors";
import {
  isoToLocalInput,
  localInputToIso,
  outcomeNodes,
  outcomesFor,
  type FlowGraph,
  type SimOutcome,
  type SimulationResult,
} from "../../lib/flow";
import { flowApi } from "../../lib/flowApi";
import { useI18n, type Key } from "../../lib/i18n";
import { outputName } from "./flowText";

/** A test call: walks the current graph for a date/time, keys and ring outcomes; the
 * result's path is highlighted on the canvas by the editor. */
export function SimulatorPanel({
  flowId,
  graph,
  result,
  onResult,
}: {
  flowId: number;
  graph: FlowGraph;
  result: SimulationResult | null;
  onResult: (r: SimulationResult | null) => void;
}) {
  const { t } = useI18n();
  const [at, setAt] = useState(() => isoToLocalInput(new Date()));
  const [digits, setDigits] = useState("");
  const [caller, setCaller] = useState("");
  const [outcomes, setOutcomes] = useState<Record<string, SimOutcome>>({});
  const rings = outcomeNodes(graph);
  const run = useMutation({
    mutationFn: () => {
      const iso = localInputToIso(at);
      if (!iso) throw new Error(t("flow.sim.badTime"));
      const chosen = Object.fromEntries(
        Object.entries(outcomes).filter(([id]) => rings.some((n) => n.id === id)),
      );
      return flowApi.simulate(flowId, {
        graph,
        at: iso,
        digits: digits.replace(/[^0-9*#\- ]/g, ""),
        caller: caller.trim() || undefined,
        outcomes: chosen,
      });
    },
    onSuccess: onResult,
  });
  const action = result?.action as { type?: string; kind?: string; reason?: string } | undefined;
  const end = action ? (action.type ?? action.kind ?? "") + (action.reason ? ` (${action.reason})` : "") : "";
  return (
    <Stack gap="xs" data-testid="simulator">
      <TextInput
        type="datetime-local"
        label={t("flow.sim.at")}
        value={at}
        onChange={(e) => setAt(e.currentTarget.value)}
        data-testid="sim-at"
      />
      <TextInput
        label={t("flow.sim.digits")}
        description={t("flow.sim.digitsHint")}
        value={digits}
        onChange={(e) => setDigits(e.currentTarget.value)}
        data-testid="sim-digits"
      />
      <TextInput label={t("flow.sim.caller")} value={caller} onChange={(e) => setCaller(e.currentTarget.value)} />
      {rings.map((n) => (
        <Select
          key={n.id}
          label={t("flow.sim.outcome", { node: n.label || n.id })}
          data={outcomesFor(n.type).map((o) => ({ value: o, label: outputName(t, o) }))}
          value={outcomes[n.id] ?? outcomesFor(n.type)[0]}
          allowDeselect={false}
          onChange={(v) => v && setOutcomes({ ...outcomes, [n.id]: v as SimOutcome })}
          data-testid={`sim-outcome-${n.id}`}
        />
      ))}
      <Group gap={6}>
        <Button leftSection={<IconPlayerPlay size={14} />} loading={run.isPending} onClick={() => run.mutate()} data-testid="sim-run">
          {t("flow.sim.run")}
        </Button>
        {result && (
          <Button variant="subtle" color="gray" leftSection={<IconX size={14} />} onClick={() => onResult(null)}>
            {t("flow.sim.clear")}
          </Button>
        )}
      </Group>
      {run.error && (
        <Alert color="red" role="alert">
          {errorMessage(run.error)}
        </Alert>
      )}
      {result && (
        <Stack gap={4} data-testid="sim-result">
          <Text size="sm" fw={500}>
            {t("flow.sim.path")}
          </Text>
          <Group gap={4} data-testid="sim-path">
            {result.path.map((id, i) => (
              <Badge key={i} variant="light" color="orange" data-testid="sim-path-node">
                {id}
              </Badge>
            ))}
          </Group>
          {end && (
            <Text size="sm" data-testid="sim-end">
              {t("flow.sim.end")}: {end}
            </Text>
          )}
          <Stack gap={0}>
            {result.trace.map((e, i) => (
              <Text key={i} size="xs" c="dimmed">
                {e.node_id} {e.kind && e.kind !== "node" ? `[${t(`flow.trace.${e.kind}` as Key)}]` : ""}{" "}
                {e.output ? `→ ${outputName(t, e.output)}` : ""} {e.detail ?? ""}
              </Text>
            ))}
          </Stack>
        </Stack>
      )}
    </Stack>
  );
}
