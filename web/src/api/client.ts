/** The typed API client, generated from the backend's OpenAPI document (see `npm run gen:api`). */
import createClient, { type Middleware } from "openapi-fetch";
import type { paths, components } from "./schema";
import { ApiError } from "../lib/errors";

export type Schemas = components["schemas"];
export type Me = Schemas["MeOut"];
export type Employee = Schemas["EmployeeOut"];
export type Department = Schemas["DepartmentOut"];
export type Device = Schemas["DeviceOut"];
export type DeviceCreated = Schemas["DeviceCreated"];
export type Contact = Schemas["ContactOut"];
export type ContactIn = Schemas["ContactIn"];
export type Registration = Schemas["RegistrationOut"];

export const CSRF_COOKIE = "clickphone_csrf";
export const CSRF_HEADER = "X-CSRF-Token";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export function readCookie(name: string, cookies: string = document.cookie): string | null {
  for (const part of cookies.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return null;
}

const csrf: Middleware = {
  onRequest({ request }) {
    if (!SAFE.has(request.method)) {
      const token = readCookie(CSRF_COOKIE);
      if (token) request.headers.set(CSRF_HEADER, token);
    }
    return request;
  },
};

/** Listeners told when the session is gone (401), so the app can go to the sign-in page. */
const unauthorizedListeners = new Set<() => void>();
export function onUnauthorized(fn: () => void): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

export const api = createClient<paths>({
  baseUrl: typeof window !== "undefined" ? window.location.origin : "",
  credentials: "same-origin",
  // Looked up per request, so tests can stub the global fetch.
  fetch: (request: Request) => globalThis.fetch(request),
});
api.use(csrf);

/** Unwraps an openapi-fetch result: the data, or an ApiError with the server's message. */
export async function call<T>(
  p: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await p;
  } catch (e) {
    throw new ApiError(0, { error_id: "network", message: (e as Error).message || "network error" });
  }
  const { data, error, response } = result;
  if (!response.ok) {
    const body = (error && typeof error === "object" ? error : undefined) as
      | { error_id?: string; message?: string }
      | undefined;
    const err = new ApiError(response.status, body);
    if (response.status === 401 && !response.url.includes("/auth/")) {
      unauthorizedListeners.forEach((fn) => fn());
    }
    throw err;
  }
  return data as T;
}

export const PAGE_SIZE = 20;
