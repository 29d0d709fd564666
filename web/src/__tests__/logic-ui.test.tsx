import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { ReactFlow, ReactFlowProvider } from "@xyflow/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowEdgeView } from "../components/flow/FlowEdgeView";
import { FlowNodeView } from "../components/flow/FlowNodeView";
import { graphToFlow, type FlowGraph, type Problem } from "../lib/flow";
import { I18nProvider } from "../lib/i18n";
import { ForwardingPage } from "../pages/Forwarding";

// React Flow reads the zoom of its viewport through DOMMatrixReadOnly, which jsdom lacks.
class MatrixStub {
  m22: number;
  constructor(transform?: string) {
    const scale = transform?.match(/scale\(([\d.]+)\)/)?.[1];
    this.m22 = scale !== undefined ? Number(scale) : 1;
  }
}
(window as unknown as { DOMMatrixReadOnly: unknown }).DOMMatrixReadOnly ??= MatrixStub;

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function wrap(ui: React.ReactNode) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <MantineProvider>
      <QueryClientProvider client={qc}>
        <I18nProvider lang="en">{ui}</I18nProvider>
      </QueryClientProvider>
    </MantineProvider>,
  );
}

describe("flow node on the canvas", () => {
  it("shows its label, one labelled handle per output and its problems as a badge", async () => {
    const graph: FlowGraph = {
      nodes: [
        {
          id: "menu",
          type: "ivr_menu",
          label: "Main menu",
          position: { x: 0, y: 0 },
          prompt: { audio: null, text: null },
          choices: [
            { digit: "1", output: "sales" },
            { digit: "2", output: "support" },
          ],
          timeout: 5,
          repeats: 2,
        },
      ],
      edges: [],
    };
    const problems: Problem[] = [
      { code: "missing_audio", message: "IVR menu needs a prompt", node_id: "menu", severity: "error" },
      { code: "missing_branch", message: "output 'sales' of ivr_menu 'menu' leads nowhere", node_id: "menu", severity: "error" },
    ];
    const { nodes, edges } = graphToFlow(graph, problems);
    wrap(
      <div style={{ width: 800, height: 600 }}>
        <ReactFlowProvider>
          <ReactFlow
            nodes={nodes}
            edges={edges}
            nodeTypes={{ flowNode: FlowNodeView }}
            edgeTypes={{ flowEdge: FlowEdgeView }}
          />
        </ReactFlowProvider>
      </div>,
    );
    const node = await screen.findByTestId("flow-node");
    expect(node.getAttribute("data-node-type")).toBe("ivr_menu");
    expect(node.getAttribute("data-problems")).toBe("missing_audio missing_branch");
    expect(screen.getByTestId("flow-node-label").textContent).toBe("Main menu");
    for (const out of ["sales", "support", "invalid", "timeout"]) {
      expect(screen.getByTestId(`handle-menu-${out}`)).toBeTruthy();
    }
    expect(screen.getByTestId("handle-in-menu")).toBeTruthy();
    expect(node.textContent).toContain("wrong key");
    expect(node.textContent).toContain("no key");
    const badge = screen.getByTestId("node-problem-badge");
    expect(badge.textContent).toBe("2");
    expect(badge.getAttribute("aria-label")).toBe("No recording or text to play; Output “sales” leads nowhere");
  });
});

describe("forwarding page", () => {
  it("loads the rules, adds and reorders steps, and saves them in order", async () => {
    const calls: { method: string; url: string; body: unknown }[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
        const url = String(input);
        const method = init?.method ?? "GET";
        const body = init?.body ? JSON.parse(String(init.body)) : undefined;
        calls.push({ method, url, body });
        const data =
          method === "PUT"
            ? { employee_id: 1, extension: "100", ...body }
            : {
                employee_id: 1,
                extension: "100",
                enabled: false,
                steps: [{ destination: "+79161234567", delay: { value: 20, unit: "seconds" } }],
              };
        return new Response(JSON.stringify(data), { status: 200, headers: { "Content-Type": "application/json" } });
      }),
    );
    wrap(<ForwardingPage />);
    await waitFor(() => expect(screen.getAllByTestId("fwd-step")).toHaveLength(1));
    fireEvent.click(screen.getByTestId("fwd-add"));
    const dest = screen.getAllByTestId("fwd-destination");
    fireEvent.change(dest[1], { target: { value: "102" } });
    // The new step goes first.
    fireEvent.click(screen.getAllByTestId("fwd-up")[1]);
    fireEvent.click(screen.getByTestId("fwd-enabled"));
    fireEvent.click(screen.getByTestId("fwd-save"));
    await waitFor(() => expect(calls.some((c) => c.method === "PUT")).toBe(true));
    const put = calls.find((c) => c.method === "PUT")!;
    expect(put.url).toContain("/api/v1/me/forwarding");
    expect(put.body).toEqual({
      enabled: true,
      steps: [
        { destination: "102", delay: { value: 15, unit: "seconds" } },
        { destination: "+79161234567", delay: { value: 20, unit: "seconds" } },
      ],
    });
  });

  it("refuses to save a destination that is no number", async () => {
    const fetchMock = vi.fn(async () =>
      new Response(JSON.stringify({ enabled: false, steps: [] }), {
        status: 200,
        headers: { "Content-Type": "application/json" },
      }),
    );
    vi.stubGlobal("fetch", fetchMock);
    wrap(<ForwardingPage />);
    await screen.findByTestId("fwd-empty");
    fireEvent.click(screen.getByTestId("fwd-add"));
    fireEvent.change(screen.getByTestId("fwd-destination"), { target: { value: "call me" } });
    fireEvent.click(screen.getByTestId("fwd-save"));
    expect(await screen.findByText("Enter +79161234567 or an extension")).toBeTruthy();
    expect(fetchMock).toHaveBeenCalledTimes(1); // only the GET
  });
});
