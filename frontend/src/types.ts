export interface Datasource {
  id: number;
  workspace: number;
  name: string;
  engine: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  options: Record<string, unknown>;
  description: string;
  last_check_status: string;
  last_checked_at: string | null;
}

export interface CheckItem {
  name: string;
  title: string;
  status: "passed" | "warning" | "failed" | "skipped";
  detail: string;
  hint: string;
  scope: string;
}

export interface CheckReport {
  engine: string;
  status: string;
  server_version?: string;
  items: CheckItem[];
}

export interface Job<R = unknown> {
  id: number;
  url?: string;
  status: string;
  result: R | null;
  error: string;
}

export interface CatalogTable {
  name: string;
  columns: { name: string; type: string; nullable: boolean }[];
  primary_key: string[];
  estimated_rows: number | null;
  kind: string;
}

export interface Catalog {
  engine: string;
  databases: { name: string; tables: CatalogTable[] }[];
}

export interface Task {
  id: number;
  workspace: number;
  name: string;
  description: string;
  source: number;
  target: number;
  mode: string;
  tables: (string | { source: string; target?: string })[];
  options: Record<string, unknown>;
  mapping?: Record<string, unknown>;
  desired_state: string;
  status: string;
  status_message: string;
  created_at: string;
}

export interface TableProgress {
  table: string;
  rows_done: number;
  rows_estimate: number | null;
  chunks_done: number;
  chunks_total: number;
  finished: boolean;
}
