// The pre-check of a task before it is created: POST /api/tasks/precheck/ (a task create body), polled until
// done, and the verdict that decides whether Create needs a confirmation.
import { api } from "./api";
import type { CheckReport } from "./types";

export interface UnsavedPrecheck {
  id: string;
  url: string;
  status: "queued" | "running" | "succeeded" | "failed";
  result: CheckReport | null;
  error: string;
}

export type Verdict = "running" | "passed" | "warning" | "failed";

/** failed: the job failed or an item failed (Create then needs a confirmation); warning: some item warns. */
export function verdict(check: UnsavedPrecheck | null | undefined): Verdict {
  if (!check || check.status === "queued" || check.status === "running") return "running";
  if (check.status === "failed" || !check.result) return "failed";
  const statuses = check.result.items.map((item) => item.status);
  if (check.result.status === "failed" || statuses.includes("failed")) return "failed";
  return statuses.includes("warning") ? "warning" : "passed";
}

/** Runs the pre-check of a draft's create body, waiting on the server first, then polling its URL. */
export async function runPrecheck(body: unknown, pollMs = 1000, onProgress?: (c: UnsavedPrecheck) => void): Promise<UnsavedPrecheck> {
  let check = await api<UnsavedPrecheck>("/api/tasks/precheck/?wait=20", { method: "POST", body });
  while (check.status === "queued" || check.status === "running") {
    onProgress?.(check);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    check = await api<UnsavedPrecheck>(check.url);
  }
  return check;
}
