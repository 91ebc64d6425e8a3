import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DispatcherConfigSchema,
  EdgeConfigSchema,
  RealtimeConfigSchema,
  WorkerConfigSchema,
} from "@leadscore/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../test-support/processes.ts";
import { brokenLinks, githubSlug, linkTargets } from "../docs-links.ts";

const DOCS = readdirSync(join(ROOT, "docs"))
  .filter((name) => name.endsWith(".md"))
  .map((name) => `docs/${name}`);
const DOCUMENTATION = ["README.md", "SECURITY.md", "load-tests/README.md", ...DOCS];
const readme = () => readFileSync(join(ROOT, "README.md"), "utf8");

describe("the documentation", () => {
  it("has no relative link to a missing file or heading", () => {
    expect(brokenLinks(ROOT, DOCUMENTATION)).toEqual([]);
  });

  it("links every page in docs/ from the README exactly once", () => {
    const targets = linkTargets(readme()).map((target) => target.split("#")[0]);
    for (const page of DOCS)
      expect(
        targets.filter((target) => target === page),
        page,
      ).toHaveLength(1);
  });

  it("lists in the README's configuration table exactly the variables the processes read", () => {
    const section =
      readme()
        .split(/^## /m)
        .find((part) => part.startsWith("Configuration\n")) ?? "";
    const documented = [...section.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((match) => match[1]);
    const read = new Set([
      ...Object.keys(EdgeConfigSchema.in.shape),
      ...Object.keys(WorkerConfigSchema.shape),
      ...Object.keys(DispatcherConfigSchema.in.shape),
      ...Object.keys(RealtimeConfigSchema.in.shape),
    ]);
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual([...read].sort());
  });
});

describe("the link check", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "docs-links-"));
    mkdirSync(join(dir, "docs"));
    writeFileSync(
      join(dir, "docs", "guide.md"),
      [
        "# Guide",
        "## `GET /api/leads/:id` (admin)",
        "## Where state lives",
        "## Where state lives",
        '<a id="openapi"></a>',
        "```",
        "## Not a heading",
        "```",
      ].join("\n"),
    );
    writeFileSync(join(dir, "good.md"), "");
    writeFileSync(
      join(dir, "bad.md"),
      [
        "[file](docs/guide.md) [same file](#top) [gone](docs/missing.md)",
        "[slug](docs/guide.md#get-apileadsid-admin) [repeat](docs/guide.md#where-state-lives-1)",
        "[html](docs/guide.md#openapi) [fenced](docs/guide.md#not-a-heading) [web](https://example.com/x.md)",
        "`[in code](nowhere.md)` [folder](docs/) [a link that",
        "wraps](docs/missing-wrapped.md)",
        "",
        "[ref]: ./docs/missing-too.md",
        "# Top",
      ].join("\n"),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reports links to missing files and headings, and only those", () => {
    expect(brokenLinks(dir, ["bad.md", "good.md"])).toEqual([
      "bad.md: docs/missing.md (no docs/missing.md)",
      "bad.md: docs/guide.md#not-a-heading (no heading #not-a-heading in docs/guide.md)",
      "bad.md: docs/missing-wrapped.md (no docs/missing-wrapped.md)",
      "bad.md: ./docs/missing-too.md (no docs/missing-too.md)",
    ]);
  });

  it("slugs headings as GitHub does", () => {
    expect(githubSlug("Redis and Redis Cluster")).toBe("redis-and-redis-cluster");
    expect(githubSlug("`PATCH /api/leads/:id` (admin)")).toBe("patch-apileadsid-admin");
    expect(githubSlug("What each read costs, and why")).toBe("what-each-read-costs-and-why");
  });
});
