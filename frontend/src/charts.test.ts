import { describe, expect, it } from "vitest";
import { appendPoint, differingColumns, etaSeconds, formatDuration, humanBytes, mostLagged, percent, seriesFrom, totalThroughput } from "./charts";

describe("chart data shaping", () => {
  it("humanises retained WAL bytes", () => {
    expect(humanBytes(0)).toBe("0 bytes");
    expect(humanBytes(1023)).toBe("1023 bytes");
    expect(humanBytes(1536)).toBe("1.5 KiB");
    expect(humanBytes(16 * 1024 * 1024)).toBe("16 MiB");
    expect(humanBytes(3.25 * 1024 ** 3)).toBe("3.3 GiB");
    expect(humanBytes(null)).toBe("–");
  });
  it("turns history points into [ms, value] series", () => {
    const history = [{ t: 100, lag: 1.5, eps: 10, rps: 20 }, { t: 110, lag: null, eps: 0, rps: 0 }];
    expect(seriesFrom(history, "lag")).toEqual([[100000, 1.5], [110000, null]]);
    expect(seriesFrom(history, "rps")).toEqual([[100000, 20], [110000, 0]]);
  });
  it("appends live points in time order and keeps a bounded window", () => {
    let series = appendPoint([], 1000, 3);
    series = appendPoint(series, 2000, 4);
    expect(appendPoint(series, 1500, 9)).toBe(series); // late push: dropped
    expect(appendPoint(series, 3000, undefined)).toBe(series); // no value in this message
    let long = series;
    for (let i = 3; i < 10; i++) long = appendPoint(long, i * 1000, i, 5);
    expect(long.map((p) => p[0])).toEqual([5000, 6000, 7000, 8000, 9000]);
  });
  it("shows 100% only for a finished table and estimates the time left", () => {
    expect(percent(1000, 1000, false)).toBe(99);
    expect(percent(980, 1000, true)).toBe(100);
    expect(percent(250, 1000)).toBe(25);
    expect(percent(10, null)).toBe(0);
    expect(percent(10, null, false, 3, 4)).toBe(75); // no row estimate: by chunks
    expect(etaSeconds(250, 1000, 50)).toBe(15);
    expect(etaSeconds(250, 1000, 0)).toBeNull();
    expect(etaSeconds(250, null, 10)).toBeNull();
    expect([formatDuration(15), formatDuration(75), formatDuration(7260), formatDuration(null)]).toEqual(["15s", "1m 15s", "2h 1m", "–"]);
  });
  it("picks the five most lagged measured tasks and sums throughput", () => {
    const metrics = [1, 7, 3, 9, 5, 2].map((lag, i) => ({ task: i, name: `t${i}`, status: "running", current: { lag_seconds: lag, rows_per_second: 10 } }));
    metrics.push({ task: 99, name: "never", status: "new", current: null as never });
    expect(mostLagged(metrics).map((m) => m.current!.lag_seconds)).toEqual([9, 7, 5, 3, 2]);
    expect(totalThroughput(metrics)).toBe(60);
  });
  it("finds the columns that differ between source and target rows", () => {
    expect(differingColumns({ id: 1, a: "x", b: 2 }, { id: 1, a: "y", b: 2 })).toEqual(["a"]);
    expect(differingColumns({ id: 1, a: "x" }, null)).toEqual(["id", "a"]);
  });
});

import { latestRun } from "./pages/Compare";

describe("compare runs", () => {
  it("takes the newest run of a compare whatever the list order", () => {
    const run = (id: number, compare_task: number) => ({ id, compare_task, status: "completed", progress: null, counts: null, started_at: null, finished_at: null, duration_seconds: null, error: "" });
    expect(latestRun([run(1, 7), run(3, 7), run(2, 7), run(9, 8)], 7)?.id).toBe(3);
    expect(latestRun([run(9, 8)], 7)).toBeUndefined();
  });
});
