// The REST client: same-origin fetch with the session cookie and Django's CSRF token, and API errors
// turned into messages per form field (DRF answers {"field": ["message", ...], "non_field_errors": [...]}).

export class ApiError extends Error {
  status: number;
  body: unknown;
  constructor(status: number, body: unknown) {
    super(summarize(status, body));
    this.status = status;
    this.body = body;
  }
  get fields(): Record<string, string[]> {
    return fieldErrors(this.body);
  }
}

function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** DRF's error body → {field path: [messages]}; nested objects become dotted paths ("options.rate_limit_rows"). */
export function fieldErrors(body: unknown, prefix = ""): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (body == null) return out;
  if (typeof body === "string") {
    out[prefix || "non_field_errors"] = [body];
    return out;
  }
  if (Array.isArray(body)) {
    const messages = body.filter((item) => typeof item === "string") as string[];
    if (messages.length) out[prefix || "non_field_errors"] = messages;
    body.forEach((item, index) => {
      if (item && typeof item === "object") Object.assign(out, fieldErrors(item, `${prefix}[${index}]`));
    });
    return out;
  }
  if (typeof body === "object") {
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      const path = key === "detail" || key === "non_field_errors" ? prefix || "non_field_errors" : prefix ? `${prefix}.${key}` : key;
      Object.assign(out, fieldErrors(value, path));
    }
  }
  return out;
}

/** Errors for an antd Form: each message goes to the most specific field the form has (known paths such as
 * "name" or "options.rate_limit_rows"); the rest come back apart, to show above the form. */
export function formErrors(
  error: unknown,
  known: string[],
): { fields: { name: string[]; errors: string[] }[]; other: string[] } {
  const byField = new Map<string, string[]>();
  const other: string[] = [];
  if (!(error instanceof ApiError)) {
    other.push(error instanceof Error ? error.message : String(error));
    return { fields: [], other };
  }
  for (const [path, messages] of Object.entries(error.fields)) {
    for (const message of messages) {
      // The task spec validator puts the inner path in the message: {"options": ["options.ddl_policy: must be…"]}.
      const inner = message.match(/^([\w.[\]]+): (.*)$/);
      const target = bestField(inner ? inner[1] : path, known) ?? bestField(path, known);
      if (target) byField.set(target, [...(byField.get(target) ?? []), message]);
      else other.push(path === "non_field_errors" ? message : `${path}: ${message}`);
    }
  }
  if (!byField.size && !other.length) other.push(error.message);
  return { fields: [...byField].map(([name, errors]) => ({ name: name.split("."), errors })), other };
}

function bestField(path: string, known: string[]): string | undefined {
  return known
    .filter((k) => path === k || path.startsWith(`${k}.`) || path.startsWith(`${k}[`))
    .sort((a, b) => b.length - a.length)[0];
}

function summarize(status: number, body: unknown): string {
  const errors = fieldErrors(body);
  const first = Object.entries(errors)[0];
  if (first) return first[0] === "non_field_errors" ? first[1][0] : `${first[0]}: ${first[1][0]}`;
  return `HTTP ${status}`;
}

export async function api<T = unknown>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = init.method ?? "GET";
  const headers: Record<string, string> = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const type = response.headers.get("Content-Type") ?? "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, body);
  return body as T;
}

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** A list endpoint's results, paginated or not. */
export async function list<T>(path: string): Promise<T[]> {
  const data = await api<Page<T> | T[]>(path);
  return Array.isArray(data) ? data : data.results;
}

export function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Whether the platform has an endpoint yet (pages built ahead of their API show an explanation instead). */
export async function endpointExists(path: string): Promise<boolean> {
  try {
    await api(path);
    return true;
  } catch (error) {
    return !(error instanceof ApiError && error.status === 404);
  }
}
