import { describe, expect, it } from "vitest";
import { createBody, exportSpec, importSpec, selectByRegex, type TaskDraft } from "./spec";

const DS = [
  { id: 1, name: "mysql-src", engine: "mysql", host: "10.0.0.5", port: 3306, database: "" },
  { id: 2, name: "pg-dst", engine: "postgresql", host: "10.0.0.6", port: 5432, database: "dw" },
];
const DRAFT: TaskDraft = {
  name: "orders", description: "", source: 1, target: 2, mode: "full+incremental",
  tables: ["shop.orders", { source: "shop.items", target: "sales.items" }],
  options: { rate_limit_rows: 500, ddl_policy: "review" },
};

describe("task spec JSON", () => {
  it("round-trips through export and import, datasources by name", () => {
    const text = exportSpec(DRAFT, DS);
    expect(JSON.parse(text).source).toBe("mysql-src");
    expect(text).not.toContain("password");
    const back = importSpec(text, DS);
    expect(back.errors).toEqual({});
    expect(back.draft).toEqual({ ...DRAFT, mapping: undefined });
  });
  it("resolves the API's /spec/ connection objects to this workspace's datasources", () => {
    const spec = { name: "x", source: { engine: "mysql", host: "10.0.0.5", port: 3306 }, target: { engine: "postgresql", host: "10.0.0.6", port: 5432, database: "dw" }, tables: ["a.b"] };
    expect(importSpec(JSON.stringify(spec), DS).draft).toMatchObject({ source: 1, target: 2, mode: "full+incremental" });
  });
  it("names every problem with its field", () => {
    const result = importSpec(JSON.stringify({ name: "", source: "nope", target: 99, mode: "sometimes", tables: ["notable", 3], extra: 1 }), DS);
    expect(result.draft).toBeUndefined();
    expect(result.errors).toEqual({
      extra: expect.stringContaining("unknown key"),
      name: "a task name is required",
      source: 'no datasource named "nope" in this workspace',
      target: "no datasource with id 99",
      mode: "must be one of full+incremental, full, incremental, schema",
      "tables[0]": expect.stringContaining("db.table"),
      "tables[1]": expect.stringContaining("db.table"),
    });
  });
  it("refuses text that is not a JSON object", () => {
    expect(importSpec("{oops", DS).errors.spec).toMatch(/^Not valid JSON/);
    expect(importSpec("[1]", DS).errors.spec).toBe("The spec must be a JSON object.");
  });
  it("builds the create body with the workspace and leaves an empty mapping out", () => {
    expect(createBody({ ...DRAFT, mapping: {} }, 7)).toEqual({ workspace: 7, name: "orders", description: "", source: 1, target: 2, mode: "full+incremental", tables: DRAFT.tables, options: DRAFT.options });
    expect(createBody({ ...DRAFT, mapping: { naming: { case: "lower" } } }, 7).mapping).toEqual({ naming: { case: "lower" } });
  });
});

describe("select by regex", () => {
  const tables = ["shop.orders", "shop.order_items", "shop.users", "crm.orders"];
  it("selects the matching db.table names", () => {
    expect(selectByRegex(tables, "^shop\\.order")).toEqual({ matched: ["shop.orders", "shop.order_items"] });
    expect(selectByRegex(tables, "orders$").matched).toEqual(["shop.orders", "crm.orders"]);
  });
  it("explains an invalid expression instead of selecting nothing silently", () => {
    const result = selectByRegex(tables, "shop.(");
    expect(result.matched).toEqual([]);
    expect(result.error).toMatch(/^Not a valid regular expression/);
  });
});
