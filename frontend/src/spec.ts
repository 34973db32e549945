// A task as portable JSON: exported from the wizard (datasources by name, no credentials) and pasted back.

export interface DatasourceRef {
  id: number;
  name: string;
  engine: string;
  host: string;
  port: number;
  database: string;
}

export type TableEntry = string | { source: string; target?: string };

export interface TaskDraft {
  name: string;
  description?: string;
  source: number | null;
  target: number | null;
  mode: string;
  tables: TableEntry[];
  options: Record<string, unknown>;
  mapping?: Record<string, unknown>;
}

export const MODES = ["full+incremental", "full", "incremental", "schema"];
const KNOWN_KEYS = new Set(["name", "description", "source", "target", "mode", "tables", "options", "mapping"]);

export function exportSpec(draft: TaskDraft, datasources: DatasourceRef[]): string {
  const nameOf = (id: number | null) => datasources.find((d) => d.id === id)?.name ?? null;
  const spec: Record<string, unknown> = {
    name: draft.name,
    source: nameOf(draft.source),
    target: nameOf(draft.target),
    mode: draft.mode,
    tables: draft.tables,
    options: draft.options,
  };
  if (draft.description) spec.description = draft.description;
  if (draft.mapping && Object.keys(draft.mapping).length) spec.mapping = draft.mapping;
  return JSON.stringify(spec, null, 2);
}

/** Resolves a datasource given by id, by name, or by connection ({engine, host, port}, as the API's /spec/ has it). */
function resolve(value: unknown, datasources: DatasourceRef[]): number | null | string {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return datasources.some((d) => d.id === value) ? value : `no datasource with id ${value}`;
  if (typeof value === "string") {
    const found = datasources.find((d) => d.name === value);
    return found ? found.id : `no datasource named "${value}" in this workspace`;
  }
  if (typeof value === "object") {
    const conn = value as Record<string, unknown>;
    const found = datasources.find(
      (d) => d.engine === conn.engine && d.host === conn.host && d.port === Number(conn.port) &&
        (!conn.database || d.database === conn.database),
    );
    return found ? found.id : `no datasource matches ${conn.engine}://${conn.host}:${conn.port}`;
  }
  return "must be a datasource name, id or connection object";
}

export interface ImportResult {
  draft?: TaskDraft;
  errors: Record<string, string>;
}

export function importSpec(text: string, datasources: DatasourceRef[]): ImportResult {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { errors: { spec: `Not valid JSON: ${(error as Error).message}` } };
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) return { errors: { spec: "The spec must be a JSON object." } };
  const spec = data as Record<string, unknown>;
  const errors: Record<string, string> = {};
  for (const key of Object.keys(spec)) {
    if (!KNOWN_KEYS.has(key)) errors[key] = `unknown key; known: ${[...KNOWN_KEYS].join(", ")}`;
  }
  if (typeof spec.name !== "string" || !spec.name) errors.name = "a task name is required";
  const source = resolve(spec.source, datasources);
  const target = resolve(spec.target, datasources);
  if (typeof source === "string") errors.source = source;
  if (typeof target === "string") errors.target = target;
  const mode = spec.mode ?? "full+incremental";
  if (typeof mode !== "string" || !MODES.includes(mode)) errors.mode = `must be one of ${MODES.join(", ")}`;
  const tables = spec.tables ?? [];
  if (!Array.isArray(tables)) errors.tables = "must be a list of 'db.table' or {source, target}";
  else {
    tables.forEach((t, i) => {
      const ok = typeof t === "string" ? t.includes(".") : t && typeof t === "object" && typeof (t as { source?: unknown }).source === "string";
      if (!ok) errors[`tables[${i}]`] = "must be 'db.table' or {\"source\": \"db.table\", \"target\": \"db.table\"}";
    });
  }
  const options = spec.options ?? {};
  if (typeof options !== "object" || Array.isArray(options) || options === null) errors.options = "must be an object";
  if (spec.mapping !== undefined && (typeof spec.mapping !== "object" || Array.isArray(spec.mapping))) {
    errors.mapping = "must be an object";
  }
  if (Object.keys(errors).length) return { errors };
  return {
    errors,
    draft: {
      name: spec.name as string,
      description: typeof spec.description === "string" ? spec.description : "",
      source: source as number | null,
      target: target as number | null,
      mode: mode as string,
      tables: tables as TableEntry[],
      options: options as Record<string, unknown>,
      mapping: spec.mapping as Record<string, unknown> | undefined,
    },
  };
}

/** The body of POST /api/tasks/ (and /api/tasks/preview/). */
export function createBody(draft: TaskDraft, workspace: number): Record<string, unknown> {
  const body: Record<string, unknown> = {
    workspace, name: draft.name, description: draft.description ?? "", source: draft.source,
    target: draft.target, mode: draft.mode, tables: draft.tables, options: draft.options,
  };
  if (draft.mapping && Object.keys(draft.mapping).length) body.mapping = draft.mapping;
  return body;
}

/** Tables whose "db.table" matches the regular expression (the wizard's "select by regex"). */
export function selectByRegex(tables: string[], pattern: string): { matched: string[]; error?: string } {
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch (error) {
    return { matched: [], error: `Not a valid regular expression: ${(error as Error).message}` };
  }
  return { matched: tables.filter((t) => regex.test(t)) };
}
