// The wizard's pre-check step in jsdom against a scripted API: the results come before Create, and a failed
// item keeps Create disabled until the user confirms.
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { App as AntApp } from "antd";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PrecheckStep } from "./TaskWizard";

const BODY = { workspace: 1, name: "t", source: 1, target: 2, mode: "full", tables: ["shop.orders", "shop.log"], options: {} };

function report(itemStatus: "passed" | "failed") {
  return {
    id: "tok", url: "/api/tasks/precheck/tok/", status: "succeeded", error: "",
    result: { engine: "mysql", status: itemStatus, items: [
      { name: "source.log_bin", title: "Binary log", status: "passed", detail: "ON", hint: "", scope: "source" },
      { name: "table:shop.log", title: "Table shop.log", status: itemStatus, detail: itemStatus === "failed" ? "no primary key" : "ok", hint: itemStatus === "failed" ? "Add a primary key." : "", scope: "table" },
    ] },
  };
}

function scripted(body: unknown) {
  const calls: { url: string; method: string }[] = [];
  vi.stubGlobal("fetch", vi.fn((url: string, init?: RequestInit) => {
    calls.push({ url, method: init?.method ?? "GET" });
    return Promise.resolve(new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } }));
  }));
  return calls;
}

function renderStep(onCreate: () => void) {
  return render(<AntApp><PrecheckStep body={BODY} onCreate={onCreate} onErrors={() => {}} /></AntApp>);
}

const createButton = () => screen.getByTestId("task-create") as HTMLButtonElement;

afterEach(() => vi.unstubAllGlobals());

describe("wizard pre-check before create", () => {
  it("shows the results, then lets a clean draft be created", async () => {
    const calls = scripted(report("passed"));
    const onCreate = vi.fn();
    renderStep(onCreate);
    await waitFor(() => expect(screen.getByTestId("precheck-step").getAttribute("data-verdict")).toBe("passed"));
    expect(calls[0]).toEqual({ url: "/api/tasks/precheck/?wait=20", method: "POST" });
    expect(screen.getByText("Table shop.log")).toBeTruthy();
    expect(screen.queryByTestId("precheck-override")).toBeNull();
    expect(createButton().disabled).toBe(false);
    fireEvent.click(createButton());
    expect(onCreate).toHaveBeenCalledTimes(1);
  });

  it("blocks Create on a failed item until the user confirms", async () => {
    scripted(report("failed"));
    const onCreate = vi.fn();
    renderStep(onCreate);
    await waitFor(() => expect(screen.getByTestId("precheck-step").getAttribute("data-verdict")).toBe("failed"));
    expect(screen.getByText("Add a primary key.")).toBeTruthy();
    expect(screen.getByTestId("precheck-failed")).toBeTruthy();
    expect(createButton().disabled).toBe(true);
    fireEvent.click(createButton());
    expect(onCreate).not.toHaveBeenCalled();
    const box = screen.getByTestId("precheck-override");
    fireEvent.click(box.tagName === "INPUT" ? box : box.querySelector("input")!);
    await waitFor(() => expect(createButton().disabled).toBe(false));
    fireEvent.click(createButton());
    expect(onCreate).toHaveBeenCalledTimes(1);
  });
});
