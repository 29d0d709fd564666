/**
 * The call-flow graph as the server stores it (src/clickphone/flows/model.py) and the pure
 * helpers of the Logic editor: node defaults and outputs, graph <-> React Flow conversion,
 * problems per node/edge, a browser-side mirror of the structural checks, and the set of
 * nodes and edges a simulated call walked.
 *
 * Nothing here imports React Flow's runtime: the shapes it needs are declared locally, so the
 * pure parts stay testable and out of the main bundle.
 */

export const NODE_TYPES = [
  "start",
  "time_condition",
  "play",
  "ivr_menu",
  "ring_group",
  "forward",
  "queue",
  "voicemail",
  "hangup",
  "module_switch",
] as const;
export type NodeType = (typeof NODE_TYPES)[number];

export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];
export const RING_STRATEGIES = ["all", "in_order", "round_robin", "least_recent"] as const;
export type RingStrategy = (typeof RING_STRATEGIES)[number];
export const IVR_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#"] as const;
export const SECONDS_PER_RING = 5;

export interface Position {
  x: number;
  y: number;
}
export interface Duration {
  value: number;
  unit: "seconds" | "rings";
}
export interface Prompt {
  audio?: string | null;
  text?: string | null;
}
export interface TimeRange {
  start: string;
  end: string;
}
export interface IvrChoice {
  digit: string;
  output: string;
}

interface Base {
  id: string;
  label?: string;
  position?: Position | null;
}
export interface StartNode extends Base {
  type: "start";
}
export interface TimeConditionNode extends Base {
  type: "time_condition";
  timezone: string;
  hours: Partial<Record<Weekday, TimeRange[]>>;
  holidays: string[];
}
export interface PlayNode extends Base {
  type: "play";
  prompt: Prompt;
}
export interface IvrMenuNode extends Base {
  type: "ivr_menu";
  prompt: Prompt;
  choices: IvrChoice[];
  timeout: number;
  repeats: number;
}
export interface RingGroupNode extends Base {
  type: "ring_group";
  employee_ids: number[];
  department_id: number | null;
  strategy: RingStrategy;
  ring_time: Duration;
}
export interface ForwardNode extends Base {
  type: "forward";
  destination: string;
  delay: Duration;
}
export interface QueueNode extends Base {
  type: "queue";
  employee_ids: number[];
  department_id: number | null;
  music: string | null;
  announce_position: boolean;
  max_wait: number;
}
export interface VoicemailNode extends Base {
  type: "voicemail";
  greeting: Prompt;
  notify_email: boolean;
  emails: string[];
}
export interface HangupNode extends Base {
  type: "hangup";
}
export interface ModuleSwitchNode extends Base {
  type: "module_switch";
  module: string;
}
export type FlowNode =
  | StartNode
  | TimeConditionNode
  | PlayNode
  | IvrMenuNode
  | RingGroupNode
  | ForwardNode
  | QueueNode
  | VoicemailNode
  | HangupNode
  | ModuleSwitchNode;

export interface GraphEdge {
  source: string;
  output: string;
  target: string;
}
export interface FlowGraph {
  schema_version?: 1;
  version?: number;
  nodes: FlowNode[];
  edges: GraphEdge[];
}

export type Severity = "error" | "warning";
export interface Problem {
  code: string;
  message: string;
  node_id?: string | null;
  edge?: GraphEdge | null;
  severity: Severity;
}

export const EMPTY_GRAPH: FlowGraph = { schema_version: 1, version: 1, nodes: [], edges: [] };

/** A fresh node of ``type`` with the server's defaults (every field the model knows). */
export function defaultNode(type: NodeType, id: string, position: Position): FlowNode {
  const base = { id, label: "", position };
  switch (type) {
    case "start":
      return { ...base, type };
    case "time_condition":
      return {
        ...base,
        type,
        timezone: "Europe/Moscow",
        hours: {
          mon: [{ start: "09:00", end: "18:00" }],
          tue: [{ start: "09:00", end: "18:00" }],
          wed: [{ start: "09:00", end: "18:00" }],
          thu: [{ start: "09:00", end: "18:00" }],
          fri: [{ start: "09:00", end: "18:00" }],
        },
        holidays: [],
      };
    case "play":
      return { ...base, type, prompt: { audio: null, text: null } };
    case "ivr_menu":
      return {
        ...base,
        type,
        prompt: { audio: null, text: null },
        choices: [{ digit: "1", output: "1" }],
        timeout: 5,
        repeats: 2,
      };
    case "ring_group":
      return {
        ...base,
        type,
        employee_ids: [],
        department_id: null,
        strategy: "all",
        ring_time: { value: 30, unit: "seconds" },
      };
    case "forward":
      return { ...base, type, destination: "", delay: { value: 0, unit: "seconds" } };
    case "queue":
      return {
        ...base,
        type,
        employee_ids: [],
        department_id: null,
        music: null,
        announce_position: false,
        max_wait: 300,
      };
    case "voicemail":
      return { ...base, type, greeting: { audio: null, text: null }, notify_email: false, emails: [] };
    case "hangup":
      return { ...base, type };
    case "module_switch":
      return { ...base, type, module: "" };
  }
}

/** IVR outputs named by its choices, in order, without repeats. */
export function choiceOutputs(node: IvrMenuNode): string[] {
  return [...new Set(node.choices.map((c) => c.output))];
}

/** Every output a node may take (one handle each), as the server's ``Node.outputs()``. */
export function outputsOf(node: FlowNode): string[] {
  switch (node.type) {
    case "start":
    case "play":
      return ["next"];
    case "time_condition":
      return ["open", "closed"];
    case "ivr_menu":
      return [...choiceOutputs(node), "invalid", "timeout"];
    case "ring_group":
      return ["answered", "no_answer", "busy"];
    case "forward":
      return ["failed"];
    case "queue":
      return ["answered", "overflow"];
    case "module_switch":
      return ["enabled", "disabled"];
    default:
      return [];
  }
}

/** Outputs that must be wired (the server's ``required_outputs()``). */
export function requiredOutputs(node: FlowNode): string[] {
  switch (node.type) {
    case "ivr_menu":
      return choiceOutputs(node);
    case "ring_group":
      return ["no_answer"];
    case "forward":
      return [];
    case "queue":
      return ["overflow"];
    default:
      return outputsOf(node);
  }
}

/** A new id for a node of ``type`` not yet used in ``taken`` ("ivr_menu_2"). */
export function newNodeId(type: NodeType, taken: Iterable<string>): string {
  const used = new Set(taken);
  if (type === "start" && !used.has("start")) return "start";
  for (let i = 1; ; i++) {
    const id = `${type}_${i}`;
    if (!used.has(id)) return id;
  }
}

export function edgeId(e: GraphEdge): string {
  return `${e.source}:${e.output}->${e.target}`;
}

// --- React Flow conversion ------------------------------------------------------------------

/** What the editor keeps on each React Flow node (the graph node minus its position). */
export interface NodeData extends Record<string, unknown> {
  node: FlowNode;
  problems: Problem[];
  highlighted: boolean;
}
export interface EdgeData extends Record<string, unknown> {
  problems: Problem[];
  highlighted: boolean;
}
/** The parts of React Flow's Node/Edge the conversion fills (structurally compatible). */
export interface RFNode {
  id: string;
  type: string;
  position: Position;
  data: NodeData;
  selected?: boolean;
  [k: string]: unknown;
}
export interface RFEdge {
  id: string;
  source: string;
  target: string;
  sourceHandle?: string | null;
  targetHandle?: string | null;
  data?: EdgeData;
  [k: string]: unknown;
}

export const FLOW_NODE_TYPE = "flowNode";
export const FLOW_EDGE_TYPE = "flowEdge";
export const INPUT_HANDLE = "in";

/** Staggered positions for nodes saved without one (e.g. made through the API). */
function fallbackPosition(index: number): Position {
  return { x: 80 + (index % 4) * 260, y: 60 + Math.floor(index / 4) * 200 };
}

export function graphToFlow(
  graph: FlowGraph,
  problems: Problem[] = [],
  highlight?: Highlight,
): { nodes: RFNode[]; edges: RFEdge[] } {
  const byNode = problemsByNode(problems);
  const byEdge = problemsByEdge(problems);
  const nodes = graph.nodes.map((n, i): RFNode => {
    const { position, ...rest } = n;
    return {
      id: n.id,
      type: FLOW_NODE_TYPE,
      position: position ? { x: position.x, y: position.y } : fallbackPosition(i),
      data: {
        node: rest as FlowNode,
        problems: byNode.get(n.id) ?? [],
        highlighted: highlight?.nodes.has(n.id) ?? false,
      },
    };
  });
  const edges = graph.edges.map((e): RFEdge => {
    const id = edgeId(e);
    return {
      id,
      type: FLOW_EDGE_TYPE,
      source: e.source,
      sourceHandle: e.output,
      target: e.target,
      targetHandle: INPUT_HANDLE,
      data: { problems: byEdge.get(id) ?? [], highlighted: highlight?.edges.has(id) ?? false },
    };
  });
  return { nodes, edges };
}

export function flowToGraph(
  nodes: RFNode[],
  edges: RFEdge[],
  base: Pick<FlowGraph, "schema_version" | "version"> = {},
): FlowGraph {
  return {
    schema_version: base.schema_version ?? 1,
    version: base.version ?? 1,
    nodes: nodes.map((n) => ({
      ...n.data.node,
      id: n.id,
      position: { x: Math.round(n.position.x), y: Math.round(n.position.y) },
    })),
    edges: edges.map((e) => ({
      source: e.source,
      output: e.sourceHandle ?? "next",
      target: e.target,
    })),
  };
}

/** Puts new problems and highlight flags on already-drawn nodes and edges (same objects
 * when nothing changed, so React Flow does not redraw them). */
export function decorate(
  nodes: RFNode[],
  edges: RFEdge[],
  problems: Problem[],
  highlight?: Highlight,
): { nodes: RFNode[]; edges: RFEdge[] } {
  const byNode = problemsByNode(problems);
  const byEdge = problemsByEdge(problems);
  const sameProblems = (a: Problem[], b: Problem[]) =>
    a.length === b.length && a.every((p, i) => p.code === b[i].code && p.message === b[i].message);
  return {
    nodes: nodes.map((n) => {
      const ps = byNode.get(n.id) ?? [];
      const hl = highlight?.nodes.has(n.id) ?? false;
      if (sameProblems(ps, n.data.problems) && hl === n.data.highlighted) return n;
      return { ...n, data: { ...n.data, problems: ps, highlighted: hl } };
    }),
    edges: edges.map((e) => {
      const ps = byEdge.get(e.id) ?? [];
      const hl = highlight?.edges.has(e.id) ?? false;
      if (e.data && sameProblems(ps, e.data.problems) && hl === e.data.highlighted) return e;
      return { ...e, data: { problems: ps, highlighted: hl } };
    }),
  };
}

// --- problems -------------------------------------------------------------------------------

/** Problems named on a node (an edge problem shows on the edge, not twice on its source). */
export function problemsByNode(problems: Problem[]): Map<string, Problem[]> {
  const out = new Map<string, Problem[]>();
  for (const p of problems) {
    if (!p.node_id || p.edge) continue;
    const list = out.get(p.node_id) ?? [];
    list.push(p);
    out.set(p.node_id, list);
  }
  return out;
}

export function problemsByEdge(problems: Problem[]): Map<string, Problem[]> {
  const out = new Map<string, Problem[]>();
  for (const p of problems) {
    if (!p.edge) continue;
    const id = edgeId(p.edge);
    const list = out.get(id) ?? [];
    list.push(p);
    out.set(id, list);
  }
  return out;
}

/** Problems that belong to no node or edge (shown above the canvas). */
export function graphProblems(problems: Problem[]): Problem[] {
  return problems.filter((p) => !p.node_id && !p.edge);
}

export function errorCount(problems: Problem[]): number {
  return problems.filter((p) => p.severity === "error").length;
}

const E164 = /^\+[1-9]\d{6,14}$/;
const EXTENSION = /^\d{2,8}$/;
export function isDestination(value: string): boolean {
  return E164.test(value) || EXTENSION.test(value);
}

function promptEmpty(p: Prompt | undefined): boolean {
  return !(p?.audio || (p?.text && p.text.trim()));
}

/**
 * The structural checks of validate.py, run in the browser while the draft has unsaved
 * changes (the server's list replaces them on save). Same codes, English messages.
 */
export function localProblems(graph: FlowGraph): Problem[] {
  const out: Problem[] = [];
  const err = (code: string, message: string, node_id?: string, edge?: GraphEdge) =>
    out.push({ code, message, node_id: node_id ?? null, edge: edge ?? null, severity: "error" });
  const nodes = new Map<string, FlowNode>();
  for (const n of graph.nodes) {
    if (nodes.has(n.id)) err("duplicate_node_id", `node id '${n.id}' is used twice`, n.id);
    else nodes.set(n.id, n);
  }
  const starts = graph.nodes.filter((n) => n.type === "start");
  if (!starts.length) err("missing_start", "the flow has no start node");
  for (const extra of starts.slice(1))
    err("multiple_starts", "the flow has more than one start node", extra.id);

  const wired = new Set<string>();
  const successors = new Map<string, string[]>();
  for (const e of graph.edges) {
    const source = nodes.get(e.source);
    if (!source) err("unknown_source", `edge from unknown node '${e.source}'`, undefined, e);
    else if (!outputsOf(source).includes(e.output))
      err("unknown_output", `${source.type} '${source.id}' has no output '${e.output}'`, source.id, e);
    else if (wired.has(`${e.source}\u0000${e.output}`))
      err("duplicate_edge", `output '${e.output}' of '${e.source}' is wired more than once`, e.source, e);
    else wired.add(`${e.source}\u0000${e.output}`);
    const target = nodes.get(e.target);
    if (!target) err("unknown_target", `edge to unknown node '${e.target}'`, source ? e.source : undefined, e);
    else if (target.type === "start") err("edge_to_start", "nothing may lead back to the start", target.id, e);
    if (source && target) successors.set(e.source, [...(successors.get(e.source) ?? []), e.target]);
  }
  for (const n of nodes.values()) {
    for (const output of requiredOutputs(n)) {
      if (!wired.has(`${n.id}\u0000${output}`))
        err("missing_branch", `output '${output}' of ${n.type} '${n.id}' leads nowhere`, n.id);
    }
    if ((n.type === "play" || n.type === "ivr_menu") && promptEmpty(n.prompt))
      err("missing_audio", n.type === "play" ? "play needs an audio prompt or text" : "IVR menu needs a prompt", n.id);
    if (n.type === "ivr_menu" && !n.choices.length) err("empty_menu", "IVR menu offers no keys", n.id);
    if ((n.type === "ring_group" || n.type === "queue") && !n.employee_ids.length && n.department_id == null)
      err("empty_ring_group", n.type === "queue" ? "queue has no agents" : "ring group has nobody to ring", n.id);
    if (n.type === "forward") {
      if (!n.destination.trim()) err("missing_destination", "forward has no destination", n.id);
      else if (!isDestination(n.destination))
        err("bad_destination", `'${n.destination}' is neither an E.164 number nor an extension`, n.id);
    }
    if (n.type === "module_switch" && !n.module.trim()) err("missing_module", "module switch names no module", n.id);
  }
  if (starts.length) {
    const seen = new Set([starts[0].id]);
    const todo = [starts[0].id];
    while (todo.length) {
      for (const next of successors.get(todo.pop()!) ?? []) {
        if (!seen.has(next)) {
          seen.add(next);
          todo.push(next);
        }
      }
    }
    for (const n of nodes.values()) {
      if (!seen.has(n.id) && n.type !== "start")
        err("unreachable_node", `no path from the start reaches '${n.id}'`, n.id);
    }
  }
  return out;
}

// --- simulation -----------------------------------------------------------------------------

export type SimOutcome = "answered" | "no_answer" | "busy" | "failed" | "overflow";

/** The outcomes a test call may give a node that rings somebody (first = default). */
export function outcomesFor(type: NodeType): SimOutcome[] {
  switch (type) {
    case "ring_group":
      return ["no_answer", "answered", "busy"];
    case "forward":
      return ["no_answer", "answered", "busy", "failed"];
    case "queue":
      return ["overflow", "answered"];
    default:
      return [];
  }
}
export interface TraceEntry {
  at?: string;
  node_id: string;
  node_type?: string;
  output: string | null;
  kind?: string;
  detail?: string | null;
}
export interface SimulationResult {
  path: string[];
  trace: TraceEntry[];
  action: Record<string, unknown>;
}
export interface Highlight {
  nodes: Set<string>;
  edges: Set<string>;
}

/**
 * The nodes and edges a simulated call walked: every node of its path, and for every node
 * the trace shows leaving through an output, the edge wired to that output when its target
 * was entered next. Without a trace, consecutive path nodes name the edge.
 */
export function highlightOf(graph: FlowGraph, result: Pick<SimulationResult, "path" | "trace">): Highlight {
  const nodes = new Set(result.path);
  const edges = new Set<string>();
  const left = (result.trace ?? []).filter((t) => (t.kind ?? "node") === "node" && t.output);
  if (left.length) {
    // Walk the path and the "left through" entries together: entry i leaves path[i].
    let step = 0;
    for (let i = 0; i < result.path.length - 1; i++) {
      const from = result.path[i];
      const to = result.path[i + 1];
      while (step < left.length && left[step].node_id !== from) step++;
      const output = step < left.length ? left[step].output : null;
      if (step < left.length) step++;
      const e = graph.edges.find(
        (x) => x.source === from && x.target === to && (output == null || x.output === output),
      );
      if (e) edges.add(edgeId(e));
    }
  } else {
    for (let i = 0; i < result.path.length - 1; i++) {
      const e = graph.edges.find((x) => x.source === result.path[i] && x.target === result.path[i + 1]);
      if (e) edges.add(edgeId(e));
    }
  }
  return { nodes, edges };
}

/** Ring-type nodes a simulated call asks an outcome for. */
export function outcomeNodes(graph: FlowGraph): FlowNode[] {
  return graph.nodes.filter((n) => n.type === "ring_group" || n.type === "queue" || n.type === "forward");
}

/** A wall-clock date/time input ("2026-11-23T10:30", the browser's local time) as ISO. */
export function localInputToIso(value: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value);
  if (!m) return null;
  const d = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function isoToLocalInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// --- personal forwarding --------------------------------------------------------------------

export interface ForwardingStep {
  destination: string;
  delay: Duration;
}
export interface Forwarding {
  enabled: boolean;
  steps: ForwardingStep[];
}

export function moveItem<T>(list: T[], from: number, to: number): T[] {
  if (to < 0 || to >= list.length || from === to) return list;
  const out = [...list];
  const [item] = out.splice(from, 1);
  out.splice(to, 0, item);
  return out;
}

/** Seconds until a step rings (its delay, rings counted as {@link SECONDS_PER_RING}). */
export function delaySeconds(d: Duration): number {
  return d.unit === "rings" ? d.value * SECONDS_PER_RING : d.value;
}

// --- editing helpers ------------------------------------------------------------------------

/**
 * Keeps wires in step with a node whose outputs changed: an output renamed (old no longer
 * among its outputs, new one is) carries its wire along; wires from outputs that are gone
 * are dropped (React Flow cannot draw a wire from a missing handle).
 */
export function reconcileEdges<E extends RFEdge>(
  edges: E[],
  node: FlowNode,
  renames: Record<string, string> = {},
): E[] {
  const outputs = new Set(outputsOf(node));
  const out: E[] = [];
  for (const e of edges) {
    if (e.source !== node.id) {
      out.push(e);
      continue;
    }
    let output = e.sourceHandle ?? "";
    if (!outputs.has(output) && renames[output] && outputs.has(renames[output])) {
      output = renames[output];
    }
    if (!outputs.has(output)) continue;
    if (output === e.sourceHandle) out.push(e);
    else {
      const id = edgeId({ source: e.source, output, target: e.target });
      out.push({ ...e, id, sourceHandle: output });
    }
  }
  return out;
}

/** A holiday typed as dd/mm/yyyy (or dd.mm.yyyy, or ISO) as an ISO date, or null. */
export function parseHoliday(text: string): string | null {
  const s = text.trim();
  let y: number, m: number, d: number;
  let match = /^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$/.exec(s);
  if (match) [d, m, y] = [+match[1], +match[2], +match[3]];
  else if ((match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s))) [y, m, d] = [+match[1], +match[2], +match[3]];
  else return null;
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return null;
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

/** An ISO date as dd/mm/yyyy (left as it is when it is not one). */
export function formatHoliday(iso: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  return m ? `${m[3]}/${m[2]}/${m[1]}` : iso;
}

const HHMM = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;
export function isHhmm(value: string): boolean {
  return HHMM.test(value);
}
