import { Badge, Tooltip } from "@mantine/core";
import {
  BaseEdge,
  EdgeLabelRenderer,
  getBezierPath,
  type Edge,
  type EdgeProps,
} from "@xyflow/react";
import { memo } from "react";
import type { EdgeData } from "../../lib/flow";
import { useI18n } from "../../lib/i18n";
import { problemText } from "./flowText";

export type FlowRFEdge = Edge<EdgeData, "flowEdge">;

/** A wire from an output to an input: orange and thick on a simulated path, with a red
 * badge at its middle when the edge itself has a problem. */
export const FlowEdgeView = memo(function FlowEdgeView(props: EdgeProps<FlowRFEdge>) {
  const { t } = useI18n();
  const { id, data, selected, markerEnd } = props;
  const [path, labelX, labelY] = getBezierPath(props);
  const problems = data?.problems ?? [];
  const highlighted = data?.highlighted ?? false;
  const stroke = highlighted
    ? "var(--mantine-color-orange-6)"
    : problems.length
      ? "var(--mantine-color-red-6)"
      : selected
        ? "var(--mantine-color-blue-6)"
        : "var(--mantine-color-gray-6)";
  return (
    <>
      <BaseEdge
        id={id}
        path={path}
        markerEnd={markerEnd}
        style={{ stroke, strokeWidth: highlighted ? 4 : selected ? 3 : 2 }}
        className={highlighted ? "flow-edge-highlighted" : undefined}
      />
      {problems.length > 0 && (
        <EdgeLabelRenderer>
          <div
            style={{
              position: "absolute",
              transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)`,
              pointerEvents: "all",
            }}
            className="nodrag nopan"
          >
            <Tooltip label={problems.map((p) => problemText(t, p)).join("; ")} withArrow>
              <Badge color="red" variant="filled" size="xs" data-testid="edge-problem-badge">
                !
              </Badge>
            </Tooltip>
          </div>
        </EdgeLabelRenderer>
      )}
    </>
  );
});
