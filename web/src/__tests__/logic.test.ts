import { describe, expect, it } from "vitest";
import {
  decorate,
  defaultNode,
  edgeId,
  flowToGraph,
  formatHoliday,
  graphProblems,
  graphToFlow,
  highlightOf,
  localInputToIso,
  localProblems,
  moveItem,
  newNodeId,
  NODE_TYPES,
  outcomesFor,
  outputsOf,
  parseHoliday,
  problemsByEdge,
  problemsByNode,
  reconcileEdges,
  requiredOutputs,
  type FlowGraph,
  type IvrMenuNode,
  type Problem,
} from "../lib/flow";

/** start -> ivr (1 -> sales ring group, 2 -> voicemail), ring group no_answer -> voicemail. */
function sample(): FlowGraph {
  return {
    schema_version: 1,
    version: 3,
    nodes: [
      { id: "start", type: "start", label: "", position: { x: 10, y: 20 } },
      {
        id: "menu",
        type: "ivr_menu",
        label: "Main menu",
        position: { x: 10, y: 200 },
        prompt: { audio: null, text: "Press 1 for sales" },
        choices: [
          { digit: "1", output: "sales" },
          { digit: "2", output: "vm" },
        ],
        timeout: 5,
        repeats: 2,
      },
      {
        id: "sales",
        type: "ring_group",
        label: "Sales",
        position: { x: -200, y: 400 },
        employee_ids: [3, 4],
        department_id: null,
        strategy: "in_order",
        ring_time: { value: 4, unit: "rings" },
      },
      {
        id: "vm",
        type: "voicemail",
        position: { x: 250, y: 400 },
        greeting: { audio: "p1", text: null },
        notify_email: false,
        emails: [],
      },
    ],
    edges: [
      { source: "start", output: "next", target: "menu" },
      { source: "menu", output: "sales", target: "sales" },
      { source: "menu", output: "vm", target: "vm" },
      { source: "sales", output: "no_answer", target: "vm" },
    ],
  };
}

describe("graph <-> React Flow", () => {
  it("round-trips ids, positions, outputs and every node field", () => {
    const g = sample();
    const { nodes, edges } = graphToFlow(g);
    expect(nodes.map((n) => n.id)).toEqual(["start", "menu", "sales", "vm"]);
    expect(nodes[2].position).toEqual({ x: -200, y: 400 });
    expect(nodes[2].data.node).not.toHaveProperty("position");
    expect(edges.map((e) => [e.source, e.sourceHandle, e.target, e.targetHandle])).toEqual([
      ["start", "next", "menu", "in"],
      ["menu", "sales", "sales", "in"],
      ["menu", "vm", "vm", "in"],
      ["sales", "no_answer", "vm", "in"],
    ]);
    expect(edges[1].id).toBe("menu:sales->sales");
    const back = flowToGraph(nodes, edges, g);
    expect(back).toEqual(g);
  });

  it("takes moved positions (rounded) and gives unplaced nodes distinct positions", () => {
    const g = sample();
    g.nodes = g.nodes.map((n) => ({ ...n, position: null }));
    const { nodes, edges } = graphToFlow(g);
    const spots = new Set(nodes.map((n) => `${n.position.x},${n.position.y}`));
    expect(spots.size).toBe(4);
    nodes[1] = { ...nodes[1], position: { x: 12.6, y: 99.4 } };
    expect(flowToGraph(nodes, edges).nodes[1].position).toEqual({ x: 13, y: 99 });
  });

  it("gives every node type a default that has its outputs", () => {
    for (const type of NODE_TYPES) {
      const n = defaultNode(type, `${type}_1`, { x: 1, y: 2 });
      expect(n.type).toBe(type);
      expect(n.position).toEqual({ x: 1, y: 2 });
      for (const r of requiredOutputs(n)) expect(outputsOf(n)).toContain(r);
    }
    const ivr = defaultNode("ivr_menu", "m", { x: 0, y: 0 }) as IvrMenuNode;
    expect(outputsOf(ivr)).toEqual(["1", "invalid", "timeout"]);
    expect(requiredOutputs(ivr)).toEqual(["1"]);
    expect(outputsOf(sample().nodes[1])).toEqual(["sales", "vm", "invalid", "timeout"]);
    expect(outputsOf(defaultNode("hangup", "h", { x: 0, y: 0 }))).toEqual([]);
  });

  it("names new nodes uniquely", () => {
    expect(newNodeId("start", [])).toBe("start");
    expect(newNodeId("start", ["start"])).toBe("start_1");
    expect(newNodeId("ivr_menu", ["ivr_menu_1", "ivr_menu_3"])).toBe("ivr_menu_2");
  });
});

describe("problems on nodes and edges", () => {
  const edge = { source: "menu", output: "vm", target: "vm" };
  const problems: Problem[] = [
    { code: "missing_audio", message: "m", node_id: "menu", severity: "error" },
    { code: "unguarded_loop", message: "l", node_id: "menu", severity: "warning" },
    { code: "duplicate_edge", message: "d", node_id: "menu", edge, severity: "error" },
    { code: "missing_start", message: "s", severity: "error" },
  ];

  it("puts node problems on their node and edge problems on their edge only", () => {
    const byNode = problemsByNode(problems);
    expect(byNode.get("menu")?.map((p) => p.code)).toEqual(["missing_audio", "unguarded_loop"]);
    expect(byNode.has("vm")).toBe(false);
    expect(problemsByEdge(problems).get(edgeId(edge))?.map((p) => p.code)).toEqual(["duplicate_edge"]);
    expect(graphProblems(problems).map((p) => p.code)).toEqual(["missing_start"]);
  });

  it("decorates drawn nodes and keeps untouched ones identical", () => {
    const { nodes, edges } = graphToFlow(sample(), problems);
    expect(nodes[1].data.problems).toHaveLength(2);
    expect(edges[2].data?.problems.map((p) => p.code)).toEqual(["duplicate_edge"]);
    const again = decorate(nodes, edges, problems);
    expect(again.nodes[1]).toBe(nodes[1]);
    expect(again.edges[0]).toBe(edges[0]);
    const fixed = decorate(nodes, edges, []);
    expect(fixed.nodes[1].data.problems).toEqual([]);
    expect(fixed.nodes[0]).toBe(nodes[0]);
    expect(fixed.edges[2].data?.problems).toEqual([]);
  });
});

describe("browser-side checks", () => {
  it("finds nothing wrong with a complete flow", () => {
    expect(localProblems(sample())).toEqual([]);
  });

  it("reports an unwired IVR choice, an unreachable node and missing audio on their nodes", () => {
    const g = sample();
    g.edges = g.edges.filter((e) => !(e.source === "menu" && e.output === "sales"));
    g.nodes.push({ id: "p", type: "play", prompt: { audio: null, text: "  " } });
    const found = localProblems(g).map((p) => [p.code, p.node_id]);
    expect(found).toContainEqual(["missing_branch", "menu"]);
    expect(found).toContainEqual(["unreachable_node", "sales"]);
    expect(found).toContainEqual(["missing_audio", "p"]);
    expect(found).toContainEqual(["missing_branch", "p"]);
    // The ring group's optional outputs (answered, busy) are not required.
    expect(found.filter(([c, n]) => c === "missing_branch" && n === "sales")).toEqual([]);
  });

  it("reports wiring mistakes on the edge", () => {
    const g = sample();
    g.edges.push({ source: "menu", output: "sales", target: "vm" });
    g.edges.push({ source: "vm", output: "next", target: "start" });
    const codes = localProblems(g).map((p) => [p.code, p.edge ? edgeId(p.edge) : null]);
    expect(codes).toContainEqual(["duplicate_edge", "menu:sales->vm"]);
    expect(codes).toContainEqual(["unknown_output", "vm:next->start"]);
    expect(codes).toContainEqual(["edge_to_start", "vm:next->start"]);
  });

  it("checks starts, empty groups, destinations and modules", () => {
    const none = localProblems({ nodes: [{ id: "h", type: "hangup" }], edges: [] });
    expect(none.map((p) => p.code)).toEqual(["missing_start"]);
    const g: FlowGraph = {
      nodes: [
        { id: "s", type: "start" },
        { id: "s2", type: "start" },
        { id: "f", type: "forward", destination: "12x", delay: { value: 0, unit: "seconds" } },
        { id: "m", type: "module_switch", module: " " },
        { id: "q", type: "queue", employee_ids: [], department_id: null, music: null, announce_position: false, max_wait: 5 },
      ],
      edges: [{ source: "s", output: "next", target: "f" }],
    };
    const codes = localProblems(g).map((p) => `${p.code}@${p.node_id}`);
    expect(codes).toContain("multiple_starts@s2");
    expect(codes).toContain("bad_destination@f");
    expect(codes).toContain("missing_module@m");
    expect(codes).toContain("empty_ring_group@q");
    expect(codes).toContain("missing_branch@q");
  });
});

describe("simulator highlight", () => {
  it("highlights the walked nodes and the wires the trace left through", () => {
    const g = sample();
    const h = highlightOf(g, {
      path: ["start", "menu", "sales", "vm"],
      trace: [
        { node_id: "start", output: "next", kind: "node" },
        { node_id: "menu", output: "invalid", kind: "retry", detail: "key '9'" },
        { node_id: "menu", output: "sales", kind: "node" },
        { node_id: "sales", output: "no_answer", kind: "node" },
        { node_id: "vm", output: null, kind: "node" },
      ],
    });
    expect([...h.nodes]).toEqual(["start", "menu", "sales", "vm"]);
    expect([...h.edges].sort()).toEqual(["menu:sales->sales", "sales:no_answer->vm", "start:next->menu"]);
    // The menu's direct wire to voicemail was not taken.
    expect(h.edges.has("menu:vm->vm")).toBe(false);
  });

  it("picks the output the call took when two outputs lead to the same node", () => {
    const g: FlowGraph = {
      nodes: [
        { id: "s", type: "start" },
        { id: "tc", type: "time_condition", timezone: "UTC", hours: {}, holidays: [] },
        { id: "h", type: "hangup" },
      ],
      edges: [
        { source: "s", output: "next", target: "tc" },
        { source: "tc", output: "open", target: "h" },
        { source: "tc", output: "closed", target: "h" },
      ],
    };
    const h = highlightOf(g, {
      path: ["s", "tc", "h"],
      trace: [
        { node_id: "s", output: "next", kind: "node" },
        { node_id: "tc", output: "closed", kind: "node" },
        { node_id: "h", output: null, kind: "node" },
      ],
    });
    expect([...h.edges].sort()).toEqual(["s:next->tc", "tc:closed->h"]);
  });

  it("falls back to consecutive path nodes without a trace, and marks them on the canvas", () => {
    const g = sample();
    const h = highlightOf(g, { path: ["start", "menu", "vm"], trace: [] });
    expect([...h.edges].sort()).toEqual(["menu:vm->vm", "start:next->menu"]);
    const { nodes, edges } = graphToFlow(g, [], h);
    expect(nodes.filter((n) => n.data.highlighted).map((n) => n.id)).toEqual(["start", "menu", "vm"]);
    expect(edges.filter((e) => e.data?.highlighted).map((e) => e.id)).toEqual(["start:next->menu", "menu:vm->vm"]);
  });

  it("offers outcomes per ringing node type", () => {
    expect(outcomesFor("ring_group")[0]).toBe("no_answer");
    expect(outcomesFor("forward")).toContain("failed");
    expect(outcomesFor("queue")).toEqual(["overflow", "answered"]);
    expect(outcomesFor("play")).toEqual([]);
  });

  it("sends the chosen local wall-clock time as an instant", () => {
    expect(localInputToIso("2026-11-23T10:30")).toBe(new Date(2026, 10, 23, 10, 30).toISOString());
    expect(localInputToIso("")).toBeNull();
  });
});

describe("editing helpers", () => {
  it("carries a wire along when an IVR output is renamed and drops wires of removed outputs", () => {
    const g = sample();
    const { edges } = graphToFlow(g);
    const menu = g.nodes[1] as IvrMenuNode;
    const renamed: IvrMenuNode = { ...menu, choices: [{ digit: "1", output: "team" }, menu.choices[1]] };
    const out = reconcileEdges(edges, renamed, { sales: "team" });
    expect(out.map((e) => e.id)).toEqual(["start:next->menu", "menu:team->sales", "menu:vm->vm", "sales:no_answer->vm"]);
    expect(out[1].sourceHandle).toBe("team");
    const dropped = reconcileEdges(edges, { ...menu, choices: [menu.choices[0]] });
    expect(dropped.map((e) => e.id)).toEqual(["start:next->menu", "menu:sales->sales", "sales:no_answer->vm"]);
    // Still used by another key: the wire stays where it is.
    const shared: IvrMenuNode = { ...menu, choices: [{ digit: "1", output: "sales" }, { digit: "3", output: "sales" }, { digit: "2", output: "vmx" }] };
    const kept = reconcileEdges(edges, shared, { sales: "salesx" });
    expect(kept.map((e) => e.id)).toContain("menu:sales->sales");
  });

  it("reads holidays as dd/mm/yyyy and shows them so", () => {
    expect(parseHoliday("31/12/2026")).toBe("2026-12-31");
    expect(parseHoliday("1.5.2027")).toBe("2027-05-01");
    expect(parseHoliday("2026-01-07")).toBe("2026-01-07");
    expect(parseHoliday("31/02/2026")).toBeNull();
    expect(parseHoliday("12/2026")).toBeNull();
    expect(formatHoliday("2026-12-31")).toBe("31/12/2026");
  });

  it("reorders forwarding steps", () => {
    expect(moveItem(["a", "b", "c"], 2, 0)).toEqual(["c", "a", "b"]);
    expect(moveItem(["a", "b", "c"], 0, 1)).toEqual(["b", "a", "c"]);
    const same = ["a"];
    expect(moveItem(same, 0, -1)).toBe(same);
  });
});
