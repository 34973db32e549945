import { describe, expect, it } from "vitest";
import { hasTranslation, translate } from "./i18n";

// Every source file of the console, as text: the keys it passes to t("…") are the English texts shown.
const sources = import.meta.glob(["./**/*.tsx", "./**/*.ts", "!./**/*.test.*"], { query: "?raw", import: "default", eager: true }) as Record<string, string>;

/** The literal keys of t("…") calls, and both branches of t(cond ? "a" : "b"). */
export function usedKeys(text: string): string[] {
  const literal = '"((?:[^"\\\\]|\\\\.)*)"';
  const keys: string[] = [];
  for (const m of text.matchAll(new RegExp(`\\bt\\(\\s*${literal}\\s*\\)`, "g"))) keys.push(JSON.parse(`"${m[1]}"`));
  for (const m of text.matchAll(new RegExp(`\\bt\\([^"()]*(?:\\([^()]*\\))?[^"()]*\\?\\s*${literal}\\s*:\\s*${literal}\\s*\\)`, "g"))) {
    keys.push(JSON.parse(`"${m[1]}"`), JSON.parse(`"${m[2]}"`));
  }
  return keys;
}

describe("translations", () => {
  it("switches between English and Simplified Chinese, falling back to English for a missing entry", () => {
    expect(translate("en", "Datasources")).toBe("Datasources");
    expect(translate("zh", "Datasources")).toBe("数据源");
    expect(translate("zh", "Task created")).toBe("任务已创建");
    expect(translate("zh", "A sentence nobody translated")).toBe("A sentence nobody translated");
  });

  it("finds the keys of t() calls, quotes and conditionals included", () => {
    expect(usedKeys('t("Save") + t( "Say \\"hi\\"" ) + t(can(role, "operate") ? "Yes: do it." : "No.")')).toEqual(["Save", 'Say "hi"', "Yes: do it.", "No."]);
  });

  it("has a Chinese text for every English text the console shows through t()", () => {
    const files = Object.keys(sources);
    expect(files.some((f) => f.endsWith("TaskWizard.tsx"))).toBe(true);
    const keys = new Set(Object.values(sources).flatMap(usedKeys));
    expect(keys.size).toBeGreaterThan(150);
    const missing = [...keys].filter((key) => !hasTranslation("zh", key)).sort();
    expect(missing).toEqual([]);
    for (const key of ["Replication slot", "Run the pre-check again", "No log lines yet."]) {
      expect(keys.has(key)).toBe(true);
      expect(translate("zh", key)).not.toBe(key);
    }
  });
});
