/** The Logic editor: one call flow drawn on a React Flow canvas (lazy-loaded route). */
import {
  ActionIcon,
  Alert,
  Anchor,
  Badge,
  Box,
  Button,
  Group,
  Paper,
  ScrollArea,
  Stack,
  Tabs,
  Text,
  TextInput,
  Tooltip,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import {
  IconAlertTriangle,
  IconArrowLeft,
  IconDeviceFloppy,
  IconHistory,
  IconLink,
  IconRocket,
} from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  applyEdgeChanges,
  applyNodeChanges,
  Background,
  Controls,
  MarkerType,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection,
  type EdgeChange,
  type NodeChange,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import { Link as RouterLink, useParams } from "react-router";
import { AttachmentsModal } from "../components/flow/AttachmentsModal";
import { FlowEdgeView, type FlowRFEdge } from "../components/flow/FlowEdgeView";
import { FlowNodeView, type FlowRFNode } from "../components/flow/FlowNodeView";
import { problemText } from "../components/flow/flowText";
import { NODE_META, PALETTE_DRAG_TYPE } from "../components/flow/nodeMeta";
import { NodePanel } from "../components/flow/NodePanel";
import { Palette } from "../components/flow/Palette";
import { SimulatorPanel } from "../components/flow/SimulatorPanel";
import { VersionsDrawer } from "../components/flow/VersionsDrawer";
import { ErrorState, LoadingState } from "../components/States";
import { ApiError, errorMessage } from "../lib/errors";
import {
  decorate,
  defaultNode,
  edgeId,
  errorCount,
  FLOW_EDGE_TYPE,
  flowToGraph,
  graphProblems,
  graphToFlow,
  highlightOf,
  INPUT_HANDLE,
  localProblems,
  NODE_TYPES,
  newNodeId,
  problemsByNode,
  reconcileEdges,
  type FlowGraph,
  type FlowNode,
  type NodeType,
  type Position,
  type Problem,
  type RFEdge,
  type RFNode,
  type SimulationResult,
} from "../lib/flow";
import { flowApi, type Flow } from "../lib/flowApi";
import { useI18n } from "../lib/i18n";

const nodeTypes = { flowNode: FlowNodeView };
const edgeTypes = { flowEdge: FlowEdgeView };
const defaultEdgeOptions = { type: FLOW_EDGE_TYPE, markerEnd: { type: MarkerType.ArrowClosed } };

/** Codes the browser checks itself; the server's other findings are kept until the next save. */
const LOCAL_CODES = new Set([
  "duplicate_node_id",
  "missing_start",
  "multiple_starts",
  "unknown_source",
  "unknown_output",
  "duplicate_edge",
  "unknown_target",
  "edge_to_start",
  "missing_branch",
  "missing_audio",
  "empty_menu",
  "empty_ring_group",
  "missing_destination",
  "bad_destination",
  "missing_module",
  "unreachable_node",
]);

function problemsOfError(e: unknown): Problem[] | null {
  if (!(e instanceof ApiError)) return null;
  const ps = (e.details as { problems?: Problem[] } | undefined)?.problems;
  return Array.isArray(ps) ? ps : null;
}

function Editor({ flow }: { flow: Flow }) {
  const { t, dateTime } = useI18n();
  const qc = useQueryClient();
  const rf = useReactFlow<FlowRFNode, FlowRFEdge>();
  const wrapper = useRef<HTMLDivElement>(null);
  const initial = useMemo(() => graphToFlow(flow.draft, flow.problems), [flow.draft, flow.problems]);
  const [nodes, setNodes] = useState<RFNode[]>(initial.nodes);
  const [edges, setEdges] = useState<RFEdge[]>(initial.edges);
  const [base, setBase] = useState({ schema_version: flow.draft.schema_version, version: flow.draft.version });
  const [serverProblems, setServerProblems] = useState<Problem[]>(flow.problems);
  const [dirty, setDirty] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const [sim, setSim] = useState<SimulationResult | null>(null);
  const [tab, setTab] = useState<string | null>("props");
  const [history, setHistory] = useState(false);
  const [attach, setAttach] = useState(false);
  const [name, setName] = useState(flow.name);

  /** Replaces the canvas with a flow from the server (after a rollback). */
  const load = useCallback((f: Flow) => {
    const next = graphToFlow(f.draft, f.problems);
    setNodes(next.nodes);
    setEdges(next.edges);
    setBase({ schema_version: f.draft.schema_version, version: f.draft.version });
    setServerProblems(f.problems);
    setDirty(false);
    setSim(null);
  }, []);

  const graph: FlowGraph = useMemo(() => flowToGraph(nodes, edges, base), [nodes, edges, base]);
  const problems = useMemo(() => {
    if (!dirty) return serverProblems;
    const ids = new Set(graph.nodes.map((n) => n.id));
    const kept = serverProblems.filter((p) => !LOCAL_CODES.has(p.code) && (!p.node_id || ids.has(p.node_id)));
    return [...localProblems(graph), ...kept];
  }, [dirty, graph, serverProblems]);
  const highlight = useMemo(() => (sim ? highlightOf(graph, sim) : undefined), [sim, graph]);
  const shown = useMemo(() => decorate(nodes, edges, problems, highlight), [nodes, edges, problems, highlight]);

  const changed = useCallback(() => {
    setDirty(true);
    setSim(null);
  }, []);

  const onNodesChange = useCallback(
    (changes: NodeChange<FlowRFNode>[]) => {
      setNodes((ns) => applyNodeChanges(changes, ns as FlowRFNode[]) as RFNode[]);
      for (const c of changes) {
        if (c.type === "select") setSelected((cur) => (c.selected ? c.id : cur === c.id ? null : cur));
        if (c.type === "remove") {
          setEdges((es) => es.filter((e) => e.source !== c.id && e.target !== c.id));
          setSelected((cur) => (cur === c.id ? null : cur));
        }
      }
      if (changes.some((c) => c.type === "remove" || (c.type === "position" && c.dragging === false) || c.type === "add"))
        changed();
    },
    [changed],
  );
  const onEdgesChange = useCallback(
    (changes: EdgeChange<FlowRFEdge>[]) => {
      setEdges((es) => applyEdgeChanges(changes, es as FlowRFEdge[]) as RFEdge[]);
      if (changes.some((c) => c.type === "remove")) changed();
    },
    [changed],
  );
  const onConnect = useCallback(
    (c: Connection) => {
      if (!c.sourceHandle) return;
      const e = { source: c.source, output: c.sourceHandle, target: c.target };
      setEdges((es) => [
        // One wire per output: a new one replaces the old.
        ...es.filter((x) => !(x.source === c.source && x.sourceHandle === c.sourceHandle)),
        { id: edgeId(e), type: FLOW_EDGE_TYPE, source: c.source, sourceHandle: c.sourceHandle, target: c.target, targetHandle: INPUT_HANDLE },
      ]);
      changed();
    },
    [changed],
  );
  const isValidConnection = useCallback(
    (c: { source: string; target: string }) => {
      const target = nodes.find((n) => n.id === c.target);
      return !!target && target.data.node.type !== "start";
    },
    [nodes],
  );

  const addNode = useCallback(
    (type: NodeType, position?: Position) => {
      if (type === "start" && nodes.some((n) => n.data.node.type === "start")) {
        notifications.show({ color: "yellow", message: t("flow.oneStart") });
        return;
      }
      let at = position;
      if (!at) {
        const box = wrapper.current?.getBoundingClientRect();
        const center = box
          ? rf.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 3 })
          : { x: 100, y: 100 };
        const k = nodes.length % 5;
        at = { x: center.x - 95 + k * 20, y: center.y + k * 20 };
      }
      const id = newNodeId(type, nodes.map((n) => n.id));
      const [rfNode] = graphToFlow({ nodes: [defaultNode(type, id, at)], edges: [] }).nodes;
      setNodes((ns) => [...ns.map((n) => (n.selected ? { ...n, selected: false } : n)), { ...rfNode, selected: true }]);
      setSelected(id);
      setTab("props");
      changed();
    },
    [nodes, rf, t, changed],
  );

  const onDrop = useCallback(
    (ev: DragEvent) => {
      const type = ev.dataTransfer.getData(PALETTE_DRAG_TYPE) as NodeType;
      if (!NODE_TYPES.includes(type)) return;
      ev.preventDefault();
      const p = rf.screenToFlowPosition({ x: ev.clientX, y: ev.clientY });
      addNode(type, { x: p.x - 95, y: p.y - 20 });
    },
    [rf, addNode],
  );

  const updateNode = useCallback(
    (node: FlowNode, renames?: Record<string, string>) => {
      setNodes((ns) => ns.map((n) => (n.id === node.id ? { ...n, data: { ...n.data, node } } : n)));
      setEdges((es) => reconcileEdges(es, node, renames));
      changed();
    },
    [changed],
  );
  const deleteNode = useCallback(
    (id: string) => {
      setNodes((ns) => ns.filter((n) => n.id !== id));
      setEdges((es) => es.filter((e) => e.source !== id && e.target !== id));
      setSelected(null);
      changed();
    },
    [changed],
  );

  const afterSave = (f: Flow) => {
    qc.setQueryData(["flows", flow.id], f);
    qc.invalidateQueries({ queryKey: ["flows", "list"] });
    setServerProblems(f.problems);
    setDirty(false);
  };
  const save = useMutation({
    mutationFn: () => flowApi.saveDraft(flow.id, graph),
    onSuccess: (f) => {
      afterSave(f);
      notifications.show({ color: "green", message: t("flow.saved") });
    },
    onError: (e) => notifications.show({ color: "red", message: errorMessage(e) }),
  });
  const publish = useMutation({
    mutationFn: async () => {
      if (dirty) afterSave(await flowApi.saveDraft(flow.id, graph));
      await flowApi.publish(flow.id);
      return flowApi.get(flow.id);
    },
    onSuccess: (f) => {
      afterSave(f);
      qc.invalidateQueries({ queryKey: ["flows", flow.id, "versions"] });
      notifications.show({ color: "green", message: t("flow.published", { n: f.published_version ?? "" }) });
    },
    onError: (e) => {
      const ps = problemsOfError(e);
      if (ps) {
        setServerProblems(ps);
        setDirty(false);
      }
      notifications.show({ color: "red", message: ps ? t("flow.publishBlocked", { n: errorCount(ps) }) : errorMessage(e) });
    },
  });
  const rename = useMutation({
    mutationFn: (v: string) => flowApi.rename(flow.id, v),
    onSuccess: (f) => {
      qc.setQueryData(["flows", flow.id], (old: Flow | undefined) => (old ? { ...old, name: f.name } : f));
      qc.invalidateQueries({ queryKey: ["flows", "list"] });
    },
    onError: (e) => {
      setName(flow.name);
      notifications.show({ color: "red", message: errorMessage(e) });
    },
  });

  // Ctrl+S / Cmd+S saves the draft.
  const saveRef = useRef(save.mutate);
  saveRef.current = save.mutate;
  useEffect(() => {
    const onKey = (ev: KeyboardEvent) => {
      if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "s") {
        ev.preventDefault();
        saveRef.current();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  useEffect(() => {
    if (!dirty) return;
    const warn = (ev: BeforeUnloadEvent) => ev.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  const current = flow;
  const selectedNode = nodes.find((n) => n.id === selected)?.data.node;
  const byNode = problemsByNode(problems);
  const errors = errorCount(problems);
  const general = graphProblems(problems);

  return (
    <Stack gap="xs" h="calc(100dvh - 60px - 2 * var(--mantine-spacing-md))" data-testid="flow-editor">
      <Group justify="space-between" wrap="wrap" gap="xs">
        <Group gap="xs" wrap="nowrap">
          <Tooltip label={t("flow.backToList")}>
            <ActionIcon component={RouterLink} to="/logic" variant="subtle" aria-label={t("flow.backToList")}>
              <IconArrowLeft size={18} />
            </ActionIcon>
          </Tooltip>
          <TextInput
            value={name}
            aria-label={t("flow.name")}
            onChange={(e) => setName(e.currentTarget.value)}
            onBlur={() => name.trim() && name !== current.name && rename.mutate(name.trim())}
            fw={700}
            w={240}
            data-testid="flow-name"
          />
          {current.published_version != null ? (
            <Badge color="green" variant="light" data-testid="flow-published">
              {t("flow.versionN", { n: current.published_version })}
            </Badge>
          ) : (
            <Badge color="gray" variant="light" data-testid="flow-published">
              {t("flow.notPublished")}
            </Badge>
          )}
          {dirty && (
            <Badge color="yellow" variant="light" data-testid="flow-dirty">
              {t("flow.unsaved")}
            </Badge>
          )}
          <Tooltip
            disabled={!problems.length}
            multiline
            w={320}
            label={problems.slice(0, 8).map((p) => problemText(t, p)).join("; ")}
          >
            <Badge
              color={errors ? "red" : problems.length ? "yellow" : "teal"}
              leftSection={errors ? <IconAlertTriangle size={12} /> : undefined}
              data-testid="flow-problem-count"
              data-count={errors}
            >
              {errors ? t("flow.errorsN", { n: errors }) : t("flow.noErrors")}
            </Badge>
          </Tooltip>
        </Group>
        <Group gap="xs">
          <Text size="xs" c="dimmed" visibleFrom="lg">
            {t("flow.updated", { at: dateTime(current.updated_at) })}
          </Text>
          <Button variant="default" leftSection={<IconLink size={16} />} onClick={() => setAttach(true)} data-testid="flow-attachments">
            {t("flow.attachments")}
            {current.attachments.length > 0 && ` (${current.attachments.length})`}
          </Button>
          <Button variant="default" leftSection={<IconHistory size={16} />} onClick={() => setHistory(true)} data-testid="flow-history">
            {t("flow.history")}
          </Button>
          <Tooltip label="Ctrl+S">
            <Button
              variant={dirty ? "filled" : "light"}
              leftSection={<IconDeviceFloppy size={16} />}
              loading={save.isPending}
              onClick={() => save.mutate()}
              data-testid="flow-save"
            >
              {t("flow.saveDraft")}
            </Button>
          </Tooltip>
          <Button color="green" leftSection={<IconRocket size={16} />} loading={publish.isPending} onClick={() => publish.mutate()} data-testid="flow-publish">
            {t("flow.publish")}
          </Button>
        </Group>
      </Group>
      {general.length > 0 && (
        <Alert color="red" py={6} data-testid="flow-general-problems">
          {general.map((p) => problemText(t, p)).join("; ")}
        </Alert>
      )}
      <Group align="stretch" gap="xs" wrap="nowrap" style={{ flex: 1, minHeight: 0 }}>
        <Paper withBorder p="xs" w={200} style={{ flexShrink: 0 }}>
          <ScrollArea h="100%">
            <Palette onAdd={(type) => addNode(type)} />
          </ScrollArea>
        </Paper>
        <Paper
          withBorder
          ref={wrapper}
          style={{ flex: 1, minWidth: 0, overflow: "hidden" }}
          onDragOver={(ev: DragEvent) => {
            if (!ev.dataTransfer.types.includes(PALETTE_DRAG_TYPE)) return;
            ev.preventDefault();
            ev.dataTransfer.dropEffect = "copy";
          }}
          onDrop={onDrop}
          data-testid="flow-canvas"
        >
          <ReactFlow<FlowRFNode, FlowRFEdge>
            nodes={shown.nodes as FlowRFNode[]}
            edges={shown.edges as FlowRFEdge[]}
            nodeTypes={nodeTypes}
            edgeTypes={edgeTypes}
            defaultEdgeOptions={defaultEdgeOptions}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            isValidConnection={isValidConnection}
            onPaneClick={() => setSelected(null)}
            deleteKeyCode={["Delete", "Backspace"]}
            fitView
            fitViewOptions={{ maxZoom: 1 }}
            minZoom={0.2}
            proOptions={{ hideAttribution: true }}
          >
            <Background gap={16} />
            <Controls showInteractive={false} />
            <MiniMap
              pannable
              zoomable
              nodeColor={(n) => `var(--mantine-color-${NODE_META[(n as FlowRFNode).data.node.type].color}-4)`}
            />
          </ReactFlow>
        </Paper>
        <Paper withBorder p="xs" w={340} style={{ flexShrink: 0, display: "flex", flexDirection: "column" }}>
          <Tabs value={tab} onChange={setTab} style={{ display: "flex", flexDirection: "column", minHeight: 0, flex: 1 }}>
            <Tabs.List grow>
              <Tabs.Tab value="props" data-testid="tab-props">
                {t("flow.properties")}
              </Tabs.Tab>
              <Tabs.Tab value="sim" data-testid="tab-sim">
                {t("flow.simulator")}
              </Tabs.Tab>
            </Tabs.List>
            <ScrollArea style={{ flex: 1 }} pt="xs">
              <Tabs.Panel value="props">
                {selectedNode ? (
                  <NodePanel
                    key={selectedNode.id}
                    node={selectedNode}
                    problems={byNode.get(selectedNode.id) ?? []}
                    onChange={updateNode}
                    onDelete={() => deleteNode(selectedNode.id)}
                  />
                ) : (
                  <Text size="sm" c="dimmed" p="xs">
                    {t("flow.selectHint")}
                  </Text>
                )}
              </Tabs.Panel>
              <Tabs.Panel value="sim">
                <SimulatorPanel flowId={flow.id} graph={graph} result={sim} onResult={setSim} />
              </Tabs.Panel>
            </ScrollArea>
          </Tabs>
        </Paper>
      </Group>
      <VersionsDrawer
        flow={current}
        opened={history}
        onClose={() => setHistory(false)}
        onRolledBack={(f) => {
          qc.setQueryData(["flows", flow.id], f);
          qc.invalidateQueries({ queryKey: ["flows", "list"] });
          load(f);
          setHistory(false);
        }}
      />
      {attach && (
        <AttachmentsModal
          flow={current}
          opened
          onClose={() => setAttach(false)}
          onSaved={() => {
            qc.invalidateQueries({ queryKey: ["flows"] });
            notifications.show({ color: "green", message: t("common.saved") });
          }}
        />
      )}
    </Stack>
  );
}

export function LogicEditorPage() {
  const { t } = useI18n();
  const { id } = useParams();
  const flowId = Number(id);
  const flow = useQuery({
    queryKey: ["flows", flowId],
    queryFn: () => flowApi.get(flowId),
    enabled: Number.isInteger(flowId) && flowId > 0,
    // The canvas keeps its own state; a refetch must not reset it under the user.
    refetchOnWindowFocus: false,
    staleTime: Infinity,
  });
  if (!Number.isInteger(flowId) || flowId <= 0) return <ErrorState error={new Error(t("notFound"))} />;
  if (flow.isPending) return <LoadingState />;
  if (flow.error)
    return (
      <Stack>
        <Anchor component={RouterLink} to="/logic">
          {t("flow.backToList")}
        </Anchor>
        <ErrorState error={flow.error} onRetry={() => flow.refetch()} />
      </Stack>
    );
  return (
    <Box>
      <ReactFlowProvider>
        <Editor key={flow.data.id} flow={flow.data} />
      </ReactFlowProvider>
    </Box>
  );
}

export default LogicEditorPage;
