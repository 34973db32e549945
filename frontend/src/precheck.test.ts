import { afterEach, describe, expect, it, vi } from "vitest";
import { runPrecheck, type UnsavedPrecheck, verdict } from "./precheck";

const item = (name: string, status: "passed" | "warning" | "failed") => ({ name, title: name, status, detail: "", hint: "", scope: "table" });
const done = (items: ReturnType<typeof item>[], status = "passed"): UnsavedPrecheck =>
  ({ id: "t", url: "/api/tasks/precheck/t/", status: "succeeded", result: { engine: "mysql", status, items }, error: "" });

describe("pre-check before create", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("blocks Create on a failed item or a failed job, warns on warnings, waits while running", () => {
    expect(verdict(done([item("a", "passed")]))).toBe("passed");
    expect(verdict(done([item("a", "passed"), item("b", "warning")]))).toBe("warning");
    expect(verdict(done([item("a", "warning"), item("b", "failed")], "failed"))).toBe("failed");
    expect(verdict({ id: "t", url: "", status: "failed", result: null, error: "cannot connect" })).toBe("failed");
    expect(verdict({ id: "t", url: "", status: "running", result: null, error: "" })).toBe("running");
    expect(verdict(null)).toBe("running");
  });

  it("polls the job URL after a 202 until the report is there", async () => {
    const answers = [
      { status: 202, body: { id: "t", url: "/api/tasks/precheck/t/", status: "queued", result: null, error: "" } },
      { status: 202, body: { id: "t", url: "/api/tasks/precheck/t/", status: "running", result: null, error: "" } },
      { status: 200, body: done([item("source.log_bin", "passed")]) },
    ];
    const calls: [string, string][] = [];
    vi.stubGlobal("fetch", async (url: string, init: { method: string }) => {
      calls.push([init.method, url]);
      const next = answers.shift()!;
      return new Response(JSON.stringify(next.body), { status: next.status, headers: { "Content-Type": "application/json" } });
    });
    const seen: string[] = [];
    const check = await runPrecheck({ workspace: 1 }, 1, (c) => seen.push(c.status));
    expect(check.result?.items[0].name).toBe("source.log_bin");
    expect(calls).toEqual([["POST", "/api/tasks/precheck/?wait=20"], ["GET", "/api/tasks/precheck/t/"], ["GET", "/api/tasks/precheck/t/"]]);
    expect(seen).toEqual(["queued", "running"]);
  });
});
