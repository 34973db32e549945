// The datasource form, generated from each engine's spec: which fields it has, their defaults and hints.

export type FieldKind = "text" | "number" | "password" | "json";

export interface FieldSpec {
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  initial?: string | number;
  help?: string;
}

export interface EngineSpec {
  engine: string;
  label: string;
  defaultPort: number;
  databaseHelp: string;
  userRequired: boolean;
  optionsExample: string;
}

export const ENGINES: EngineSpec[] = [
  { engine: "mysql", label: "MySQL / MariaDB", defaultPort: 3306, userRequired: true,
    databaseHelp: "Default database; empty means every database the user can see.",
    optionsExample: '{"charset": "utf8mb4"}' },
  { engine: "postgresql", label: "PostgreSQL", defaultPort: 5432, userRequired: true,
    databaseHelp: "The database to connect to (schemas inside it are the 'databases' of a task).",
    optionsExample: '{"sslmode": "require"}' },
  { engine: "mongodb", label: "MongoDB", defaultPort: 27017, userRequired: false,
    databaseHelp: "Default database; empty means all.", optionsExample: '{"replicaSet": "rs0"}' },
  { engine: "redis", label: "Redis (change subscription sink)", defaultPort: 6379, userRequired: false,
    databaseHelp: "Database number, e.g. 0.", optionsExample: "{}" },
];

export function engineSpec(engine: string): EngineSpec | undefined {
  return ENGINES.find((e) => e.engine === engine);
}

/** The form's fields for an engine. Editing: the password is write-only, so it is never required and
 * left empty means "keep the stored one". */
export function datasourceFields(engine: string, editing: boolean): FieldSpec[] {
  const spec = engineSpec(engine);
  if (!spec) return [];
  return [
    { name: "name", label: "Name", kind: "text", required: true },
    { name: "host", label: "Host", kind: "text", required: true },
    { name: "port", label: "Port", kind: "number", required: true, initial: spec.defaultPort },
    { name: "user", label: "User", kind: "text", required: spec.userRequired },
    { name: "password", label: "Password", kind: "password", required: false,
      help: editing ? "Leave empty to keep the stored password; it is never shown." : "Stored encrypted; never shown again." },
    { name: "database", label: "Database", kind: "text", required: false, help: spec.databaseHelp },
    { name: "options", label: "Options", kind: "json", required: false, initial: "{}",
      help: `JSON object, e.g. ${spec.optionsExample}` },
  ];
}

export interface DatasourceForm {
  workspace: number;
  engine: string;
  name: string;
  host: string;
  port: number;
  user?: string;
  password?: string;
  database?: string;
  options?: string;
  description?: string;
}

/** Form values → API body. Throws {field: message} for options that are not a JSON object. */
export function datasourceBody(values: DatasourceForm, editing: boolean): Record<string, unknown> {
  let options: unknown = {};
  const text = (values.options ?? "").trim();
  if (text) {
    try {
      options = JSON.parse(text);
    } catch {
      throw { options: "Options must be valid JSON, e.g. {\"ssl\": true}." };
    }
    if (!options || typeof options !== "object" || Array.isArray(options)) {
      throw { options: "Options must be a JSON object, e.g. {\"ssl\": true}." };
    }
  }
  const body: Record<string, unknown> = {
    workspace: values.workspace, engine: values.engine, name: values.name, host: values.host,
    port: values.port, user: values.user ?? "", database: values.database ?? "", options,
    description: values.description ?? "",
  };
  // Write-only: an empty password on edit is left out so the stored one stays.
  if (values.password || !editing) body.password = values.password ?? "";
  return body;
}
