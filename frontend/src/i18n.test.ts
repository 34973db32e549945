import { describe, expect, it } from "vitest";
import { translate } from "./i18n";

describe("translations", () => {
  it("switches between English and Simplified Chinese, falling back to English for a missing entry", () => {
    expect(translate("en", "Datasources")).toBe("Datasources");
    expect(translate("zh", "Datasources")).toBe("数据源");
    expect(translate("zh", "Task created")).toBe("任务已创建");
    expect(translate("zh", "A sentence nobody translated")).toBe("A sentence nobody translated");
  });
});
