// Shaping the monitor's numbers for charts: history points, live pushes, progress and ETA.

export interface HistoryPoint {
  t: number; // epoch seconds
  lag: number | null;
  eps: number | null;
  rps: number | null;
}

export type Series = [number, number | null][]; // [epoch ms, value]

export const LIVE_WINDOW_POINTS = 360;

export function seriesFrom(history: HistoryPoint[], key: "lag" | "eps" | "rps"): Series {
  return history.map((p) => [p.t * 1000, p[key]]);
}

/** Adds a live point; a point at the same or an earlier time than the last replaces nothing and is dropped
 * (pushes can arrive out of order), and the series keeps the newest `max` points. */
export function appendPoint(series: Series, atMs: number, value: number | null | undefined, max = LIVE_WINDOW_POINTS): Series {
  if (value === undefined) return series;
  const last = series[series.length - 1];
  if (last && atMs <= last[0]) return series;
  const next = [...series, [atMs, value] as [number, number | null]];
  return next.length > max ? next.slice(next.length - max) : next;
}

/** A table's snapshot percentage: by rows against the estimate, else by chunks; 100 only once finished. */
export function percent(done: number, total: number | null | undefined, finished = false, chunksDone = 0, chunksTotal = 0): number {
  if (finished) return 100;
  const ratio = total && total > 0 ? done / total : chunksTotal > 0 ? chunksDone / chunksTotal : 0;
  return Math.min(99, Math.floor(ratio * 100));
}

/** Seconds left at the current rate, or null when it cannot be told. */
export function etaSeconds(done: number, total: number | null | undefined, rowsPerSecond: number | null | undefined): number | null {
  if (!total || !rowsPerSecond || rowsPerSecond <= 0) return null;
  return Math.max(0, Math.round((total - done) / rowsPerSecond));
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${Math.round(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
}

/** Bytes for people: 1536 → "1.5 KiB" (binary units, as PostgreSQL's pg_size_pretty). */
export function humanBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || Number.isNaN(bytes)) return "–";
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export interface TaskMetric {
  task: number;
  name: string;
  status: string;
  current: { lag_seconds?: number | null; rows_per_second?: number | null; events_per_second?: number | null } | null;
}

export function mostLagged(metrics: TaskMetric[], n = 5): TaskMetric[] {
  return metrics
    .filter((m) => m.current && typeof m.current.lag_seconds === "number")
    .sort((a, b) => (b.current!.lag_seconds as number) - (a.current!.lag_seconds as number))
    .slice(0, n);
}

export function totalThroughput(metrics: TaskMetric[]): number {
  return metrics.reduce((sum, m) => sum + (m.current?.rows_per_second ?? 0), 0);
}

export function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/** Columns whose values differ between the source and target rows (compare's side-by-side view). */
export function differingColumns(source: Record<string, unknown> | null, target: Record<string, unknown> | null): string[] {
  if (!source || !target) return Object.keys(source ?? target ?? {});
  const names = new Set([...Object.keys(source), ...Object.keys(target)]);
  return [...names].filter((n) => JSON.stringify(source[n]) !== JSON.stringify(target[n]));
}
