import { describe, expect, it } from "vitest";
import { applyLive } from "./TaskDetail";

const EMPTY = { lag: [], rps: [], tables: {}, logs: [] };

describe("live task messages", () => {
  it("adds a lag point per monitor evaluation and takes the snapshot progress", () => {
    let state = applyLive(EMPTY, { type: "task_metrics", status: "running", evaluated_at: 100, lag_seconds: 2.5, rows_per_second: 40,
      position: { file: "b.1", pos: 4 }, progress: { phase: "snapshot", per_table: [{ table: "s.o", rows_done: 10, rows_estimate: 100, chunks_done: 1, chunks_total: 10, finished: false }] }, logs: [] });
    state = applyLive(state, { type: "task_metrics", status: "running", evaluated_at: 105, lag_seconds: 0.5, rows_per_second: 80, progress: { per_table: [] }, logs: [] });
    expect(state.lag).toEqual([[100000, 2.5], [105000, 0.5]]);
    expect(state.lagSeconds).toBe(0.5);
    expect(state.status).toBe("running");
    expect(state.phase).toBe("snapshot");
    expect(state.tables["s.o"].rows_done).toBe(10);
    expect(state.position).toEqual({ file: "b.1", pos: 4 });
  });
  it("takes the runner's pushes: table progress, applied rates, phase, log lines", () => {
    const state = applyLive(EMPTY, { type: "task_live", at: 200, changed: ["tables", "applied", "phase", "logs"], phase: "stream",
      rows_per_second: 120, position: { file: "b.2", pos: 9 },
      tables: [{ table: "s.o", rows_done: 100, rows_estimate: 100, chunks_done: 10, chunks_total: 10, finished: true }],
      logs: [{ at: 200, level: "info", message: "phase: stream" }] });
    expect(state.rps).toEqual([[200000, 120]]);
    expect(state.lag).toEqual([]); // the runner does not measure lag; the monitor does
    expect(state.tables["s.o"].finished).toBe(true);
    expect(state.phase).toBe("stream");
    expect(state.logs.map((l) => l.message)).toEqual(["phase: stream"]);
  });
});
