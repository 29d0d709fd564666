/** The API's one error shape, and helpers to put its messages next to form fields. */
export interface ApiErrorBody {
  error_id: string;
  message: string;
  details?: { fields?: Record<string, string>; [k: string]: unknown };
}

export class ApiError extends Error {
  readonly status: number;
  readonly errorId: string;
  readonly details: ApiErrorBody["details"];

  constructor(status: number, body: Partial<ApiErrorBody> | undefined) {
    super(body?.message || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.errorId = body?.error_id || `http.${status}`;
    this.details = body?.details ?? {};
  }
}

/** A field error map for a form: API field paths ("numbers.0.number") -> message. */
export function fieldErrors(err: unknown, known?: readonly string[]): Record<string, string> {
  if (!(err instanceof ApiError)) return {};
  const fields = err.details?.fields;
  if (!fields || typeof fields !== "object") return {};
  const out: Record<string, string> = {};
  for (const [path, message] of Object.entries(fields)) {
    out[path] = String(message);
  }
  if (known) {
    // Field errors the form has no input for still must be seen: report them under "_form".
    const stray = Object.entries(out).filter(
      ([path]) => !known.some((k) => path === k || path.startsWith(k + ".")),
    );
    if (stray.length) out._form = stray.map(([p, m]) => `${p}: ${m}`).join("; ");
  }
  return out;
}

/** The message to show for a failure that is not tied to one field. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
