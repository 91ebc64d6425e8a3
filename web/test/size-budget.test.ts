// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { firstLoadFiles } from "../build/size-budget.ts";

describe("the first-load files", () => {
  it("are the entry and what it imports statically, not lazy chunks", () => {
    const chunk = (fileName: string, isEntry: boolean, imports: string[] = []) => ({
      fileName,
      code: "",
      isEntry,
      imports,
    });
    const files = firstLoadFiles([
      chunk("index.js", true, ["vendor.js"]),
      chunk("vendor.js", false, ["shared.js"]),
      chunk("shared.js", false),
      chunk("lazy-page.js", false, ["shared.js"]),
    ]);
    expect(files.map((file) => file.fileName).sort()).toEqual(["index.js", "shared.js", "vendor.js"]);
  });
});
