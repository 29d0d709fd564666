import { Badge, Group, Stack, Text, ThemeIcon, Tooltip } from "@mantine/core";
import { IconAlertTriangle } from "@tabler/icons-react";
import { Handle, Position, useUpdateNodeInternals, type Node, type NodeProps } from "@xyflow/react";
import { memo, useEffect } from "react";
import { INPUT_HANDLE, outputsOf, requiredOutputs, type NodeData } from "../../lib/flow";
import { useI18n } from "../../lib/i18n";
import { outputName, problemText, typeName } from "./flowText";
import { NODE_META } from "./nodeMeta";

export type FlowRFNode = Node<NodeData, "flowNode">;

const HANDLE_SPACING = 78;

/** One call-flow node on the canvas: type icon, label, an input on top, one labelled output
 * handle per output along the bottom, and its problems as a red badge with a tooltip. */
export const FlowNodeView = memo(function FlowNodeView({ data, selected }: NodeProps<FlowRFNode>) {
  const { t } = useI18n();
  const { node, problems, highlighted } = data;
  const meta = NODE_META[node.type];
  const outputs = outputsOf(node);
  const updateInternals = useUpdateNodeInternals();
  const handleKey = outputs.join("\u0000");
  // Handles come and go with an IVR menu's choices: React Flow must measure them again.
  useEffect(() => updateInternals(node.id), [handleKey, node.id, updateInternals]);
  const required = new Set(requiredOutputs(node));
  const errors = problems.filter((p) => p.severity === "error");
  const width = Math.max(190, outputs.length * HANDLE_SPACING);
  const border = highlighted
    ? "3px solid var(--mantine-color-orange-6)"
    : errors.length
      ? "2px solid var(--mantine-color-red-6)"
      : selected
        ? "2px solid var(--mantine-color-blue-6)"
        : "1px solid var(--mantine-color-gray-4)";
  return (
    <div
      className="flow-node"
      data-testid="flow-node"
      data-node-id={node.id}
      data-node-type={node.type}
      data-highlighted={highlighted ? "true" : "false"}
      data-problems={problems.map((p) => p.code).join(" ")}
      style={{
        width,
        background: highlighted ? "var(--mantine-color-orange-0)" : "var(--mantine-color-body)",
        border,
        borderRadius: 8,
        padding: "8px 10px 26px",
        boxShadow: selected ? "0 0 0 3px var(--mantine-color-blue-1)" : "0 1px 3px rgba(0,0,0,.12)",
        position: "relative",
      }}
    >
      {node.type !== "start" && (
        <Handle
          type="target"
          id={INPUT_HANDLE}
          position={Position.Top}
          data-testid={`handle-in-${node.id}`}
          style={{ width: 12, height: 12 }}
        />
      )}
      <Group gap={8} wrap="nowrap" justify="space-between">
        <Group gap={8} wrap="nowrap" style={{ minWidth: 0 }}>
          <ThemeIcon color={meta.color} variant="light" size="md">
            <meta.icon size={16} />
          </ThemeIcon>
          <Stack gap={0} style={{ minWidth: 0 }}>
            <Text size="sm" fw={600} truncate data-testid="flow-node-label">
              {node.label || typeName(t, node.type)}
            </Text>
            <Text size="xs" c="dimmed" truncate>
              {typeName(t, node.type)} · {node.id}
            </Text>
          </Stack>
        </Group>
        {problems.length > 0 && (
          <Tooltip
            multiline
            w={260}
            withArrow
            label={
              <Stack gap={2}>
                {problems.map((p, i) => (
                  <Text key={i} size="xs">
                    • {problemText(t, p)}
                  </Text>
                ))}
              </Stack>
            }
          >
            <Badge
              color={errors.length ? "red" : "yellow"}
              variant="filled"
              size="sm"
              leftSection={<IconAlertTriangle size={11} />}
              data-testid="node-problem-badge"
              aria-label={problems.map((p) => problemText(t, p)).join("; ")}
            >
              {problems.length}
            </Badge>
          </Tooltip>
        )}
      </Group>
      {outputs.map((output, i) => {
        const left = `${((i + 0.5) / outputs.length) * 100}%`;
        return (
          <div key={output}>
            <Handle
              type="source"
              id={output}
              position={Position.Bottom}
              data-testid={`handle-${node.id}-${output}`}
              style={{
                left,
                width: 12,
                height: 12,
                background: required.has(output)
                  ? "var(--mantine-color-blue-6)"
                  : "var(--mantine-color-gray-5)",
              }}
            />
            <Text
              size="10px"
              c="dimmed"
              ta="center"
              style={{
                position: "absolute",
                bottom: 8,
                left,
                transform: "translateX(-50%)",
                whiteSpace: "nowrap",
                pointerEvents: "none",
                maxWidth: HANDLE_SPACING - 6,
                overflow: "hidden",
                textOverflow: "ellipsis",
              }}
            >
              {outputName(t, output)}
            </Text>
          </div>
        );
      })}
    </div>
  );
});
