/**
 * Client calls of the Logic editor and the forwarding page (flows, prompts, modules,
 * /me/forwarding), written against the API contract by hand until the OpenAPI document has
 * them. Same session cookie, CSRF header and error handling as the generated client.
 */
import { useQuery } from "@tanstack/react-query";
import { call, CSRF_COOKIE, CSRF_HEADER, readCookie } from "../api/client";
import type { FlowGraph, Forwarding, Problem, SimOutcome, SimulationResult } from "./flow";

export type AttachmentKind = "number" | "employee" | "department";
export interface Attachment {
  kind: AttachmentKind;
  target_id: number;
  label?: string;
}
export interface Flow {
  id: number;
  name: string;
  draft: FlowGraph;
  problems: Problem[];
  published_version: number | null;
  attachments: Attachment[];
  updated_at: string;
}
export interface FlowVersion {
  version: number;
  published_at: string;
  published_by: number | null;
  published_by_name?: string;
  rollback_of?: number | null;
  current?: boolean;
}
export interface PromptInfo {
  id: string;
  name: string;
  source?: "upload" | "recorded" | "tts";
  text?: string;
  lang?: string;
  duration_seconds?: number;
  created_at?: string;
  audio_url?: string;
}
export interface SimulateRequest {
  graph?: FlowGraph;
  at: string;
  digits: string;
  caller?: string;
  outcomes?: Record<string, SimOutcome>;
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers = new Headers();
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers.set("Content-Type", "application/json");
    payload = JSON.stringify(body);
  }
  if (method !== "GET") {
    const token = readCookie(CSRF_COOKIE);
    if (token) headers.set(CSRF_HEADER, token);
  }
  const url = `/api/v1${path}`;
  return call<T>(
    globalThis
      .fetch(url, { method, headers, body: payload, credentials: "same-origin" })
      .then(async (response) => {
        const text = response.status === 204 ? "" : await response.text();
        let parsed: unknown = undefined;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        return response.ok
          ? { data: parsed as T, response }
          : { error: parsed ?? { message: text }, response };
      }),
  );
}

/** A list endpoint may answer a bare array or a page ``{items}``. */
function items<T>(v: T[] | { items: T[] }): T[] {
  return Array.isArray(v) ? v : (v?.items ?? []);
}

export const flowApi = {
  list: () => request<Flow[] | { items: Flow[] }>("GET", "/flows?limit=500").then(items),
  create: (name: string) => request<Flow>("POST", "/flows", { name }),
  get: (id: number) => request<Flow>("GET", `/flows/${id}`),
  rename: (id: number, name: string) => request<Flow>("PATCH", `/flows/${id}`, { name }),
  remove: (id: number) => request<void>("DELETE", `/flows/${id}`),
  saveDraft: (id: number, graph: FlowGraph) => request<Flow>("PUT", `/flows/${id}/draft`, { graph }),
  /** Publishes the draft; answers the new version (422 flow_invalid with details.problems). */
  publish: (id: number) => request<FlowVersion>("POST", `/flows/${id}/publish`),
  versions: (id: number) =>
    request<FlowVersion[] | { items: FlowVersion[] }>("GET", `/flows/${id}/versions`).then(items),
  version: (id: number, n: number) =>
    request<{ graph?: FlowGraph } & Partial<FlowGraph>>("GET", `/flows/${id}/versions/${n}`).then(
      (v) => (v.graph ?? (v as FlowGraph)) as FlowGraph,
    ),
  rollback: (id: number, n: number) => request<unknown>("POST", `/flows/${id}/versions/${n}/rollback`),
  setAttachments: (id: number, list: Attachment[]) =>
    request<Flow | Attachment[]>(
      "PUT",
      `/flows/${id}/attachments`,
      list.map(({ kind, target_id }) => ({ kind, target_id })),
    ),
  simulate: (id: number, body: SimulateRequest) =>
    request<SimulationResult>("POST", `/flows/${id}/simulate`, body),
  modules: () => request<{ modules: Record<string, boolean> }>("GET", "/flow-modules"),
  setModules: (modules: Record<string, boolean>) =>
    request<{ modules: Record<string, boolean> }>("PUT", "/flow-modules", { modules }),
  prompts: () => request<PromptInfo[] | { items: PromptInfo[] }>("GET", "/prompts?limit=500").then(items),
  uploadPrompt: (name: string, file: Blob, filename: string, source: "upload" | "recorded" = "upload") => {
    const form = new FormData();
    form.append("name", name);
    form.append("source", source);
    form.append("file", file, filename);
    return request<PromptInfo>("POST", "/prompts", form);
  },
  speakPrompt: (name: string, text: string, lang: string) =>
    request<PromptInfo>("POST", "/prompts", { name, text, lang }),
  removePrompt: (id: string) => request<void>("DELETE", `/prompts/${id}`),
  promptAudioUrl: (id: string) => `/api/v1/prompts/${id}/audio`,
  forwarding: () => request<Forwarding>("GET", "/me/forwarding"),
  setForwarding: (f: Forwarding) => request<Forwarding>("PUT", "/me/forwarding", f),
};

export function usePrompts(enabled = true) {
  return useQuery({ queryKey: ["prompts"], queryFn: flowApi.prompts, enabled });
}

export function useFlowModules() {
  return useQuery({ queryKey: ["flow-modules"], queryFn: flowApi.modules });
}

export function useTenantNumbers(enabled = true) {
  return useQuery({
    queryKey: ["numbers", "all"],
    queryFn: () =>
      request<{ items: { id: number; e164: string; label: string }[] }>("GET", "/numbers?limit=500"),
    enabled,
    select: (p) => p.items,
  });
}
