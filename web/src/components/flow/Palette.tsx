import { ActionIcon, Group, Paper, Stack, Text, ThemeIcon, Tooltip } from "@mantine/core";
import { IconPlus } from "@tabler/icons-react";
import type { DragEvent } from "react";
import { NODE_TYPES, type NodeType } from "../../lib/flow";
import { useI18n } from "../../lib/i18n";
import { typeName } from "./flowText";
import { NODE_META, PALETTE_DRAG_TYPE } from "./nodeMeta";

/** Node types to drag onto the canvas; the + button adds one without a mouse. */
export function Palette({ onAdd }: { onAdd: (type: NodeType) => void }) {
  const { t } = useI18n();
  return (
    <Stack gap={6} data-testid="flow-palette">
      <Text size="xs" c="dimmed">
        {t("flow.paletteHint")}
      </Text>
      {NODE_TYPES.map((type) => {
        const meta = NODE_META[type];
        const name = typeName(t, type);
        return (
          <Paper
            key={type}
            withBorder
            p={6}
            radius="sm"
            draggable
            className="draggable"
            style={{ cursor: "grab" }}
            data-testid={`palette-${type}`}
            onDragStart={(ev: DragEvent) => {
              ev.dataTransfer.setData(PALETTE_DRAG_TYPE, type);
              ev.dataTransfer.setData("text/plain", type);
              ev.dataTransfer.effectAllowed = "copy";
            }}
          >
            <Group gap={6} wrap="nowrap" justify="space-between">
              <Group gap={6} wrap="nowrap" style={{ minWidth: 0 }}>
                <ThemeIcon color={meta.color} variant="light" size="sm">
                  <meta.icon size={14} />
                </ThemeIcon>
                <Text size="sm" truncate>
                  {name}
                </Text>
              </Group>
              <Tooltip label={t("flow.addNode", { type: name })}>
                <ActionIcon
                  size="sm"
                  variant="subtle"
                  aria-label={t("flow.addNode", { type: name })}
                  onClick={() => onAdd(type)}
                  data-testid={`palette-add-${type}`}
                >
                  <IconPlus size={14} />
                </ActionIcon>
              </Tooltip>
            </Group>
          </Paper>
        );
      })}
    </Stack>
  );
}
