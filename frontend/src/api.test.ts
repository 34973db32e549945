import { describe, expect, it } from "vitest";
import { ApiError, fieldErrors, formErrors, query } from "./api";

describe("fieldErrors", () => {
  it("flattens DRF's nested error body into dotted paths", () => {
    expect(fieldErrors({ name: ["taken"], options: { rate_limit_rows: ["must be ≥ 0"] }, detail: "nope" })).toEqual({
      name: ["taken"],
      "options.rate_limit_rows": ["must be ≥ 0"],
      non_field_errors: ["nope"],
    });
  });
  it("indexes list items", () => {
    expect(fieldErrors({ tables: [{}, { source: ["bad name"] }] })).toEqual({ "tables[1].source": ["bad name"] });
  });
});

describe("formErrors", () => {
  it("puts each message on the most specific field the form has", () => {
    const error = new ApiError(400, { name: ["A task with this name already exists in the workspace."], options: ["options.ddl_policy: must be one of apply, ignore, fail, not 'x'"] });
    const mapped = formErrors(error, ["name", "options", "options.ddl_policy"]);
    expect(mapped.fields).toEqual([
      { name: ["name"], errors: ["A task with this name already exists in the workspace."] },
      { name: ["options", "ddl_policy"], errors: ["options.ddl_policy: must be one of apply, ignore, fail, not 'x'"] },
    ]);
    expect(mapped.other).toEqual([]);
  });
  it("keeps errors for fields the form lacks apart, naming the field", () => {
    const mapped = formErrors(new ApiError(400, { workspace: ["gone"], non_field_errors: ["Stop the task first."] }), ["name"]);
    expect(mapped.fields).toEqual([]);
    expect(mapped.other).toEqual(["workspace: gone", "Stop the task first."]);
  });
  it("reports a non-API failure as it is", () => {
    expect(formErrors(new TypeError("Failed to fetch"), ["name"]).other).toEqual(["Failed to fetch"]);
  });
  it("summarizes the first error as the message", () => {
    expect(new ApiError(400, { port: ["Ensure this value is less than or equal to 65535."] }).message).toBe("port: Ensure this value is less than or equal to 65535.");
    expect(new ApiError(404, { detail: "Not found." }).message).toBe("Not found.");
    expect(new ApiError(500, "<html>").message).toBe("<html>");
  });
});

describe("query", () => {
  it("leaves out empty values", () => {
    expect(query({ workspace: 3, kind: "", table: undefined, page: 2 })).toBe("?workspace=3&page=2");
    expect(query({})).toBe("");
  });
});
