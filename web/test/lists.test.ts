// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { LeadsModel, nextSort, searchProblems } from "../src/leads/model.ts";
import { formatAge, formatDate } from "../src/lib/format.ts";
import { fakeApi, fakeRealtime, settle } from "./fakes.ts";

describe("a moment's age", () => {
  const now = Date.parse("2026-12-06T12:00:00Z");

  it("is relative up to a week, and the date beyond", () => {
    expect(formatAge("2026-12-06T11:57:00Z", now)).toBe("3 min ago");
    expect(formatAge("2026-11-30T12:00:00Z", now)).toBe("6 d ago");
    expect(formatAge("2026-11-28T12:00:00Z", now)).toBe("Nov 28, 2026");
    expect(formatAge("1990-01-01T00:00:00Z", now)).toBe("Jan 1, 1990");
    expect(formatDate(Date.parse("2026-12-06T10:00:00Z"))).toBe("Dec 6, 2026");
  });
});

describe("the table's address", () => {
  it("lists what the table cannot use, and nothing it can", () => {
    expect(searchProblems("?stage=bogus&sort=name&colour=red&q=ada&min_score=abc&realtime=x")).toEqual([
      "stage=bogus (not a stage)",
      "sort=name (not a sort)",
      "colour=red (not a filter)",
    ]);
    expect(searchProblems("?stage=hot&sort=-updated_at&company=Acme&max_score=10")).toEqual([]);
  });

  it("is cleaned of them when the table opens, saying so, until the filters change", async () => {
    let url = "?stage=bogus&q=ada";
    const model = new LeadsModel({
      api: fakeApi(),
      realtime: fakeRealtime().realtime,
      url: { read: () => url, write: (next) => (url = next) },
    });
    const stop = model.activate();
    await settle();
    expect(url).toBe("?q=ada");
    expect(model.urlNotice.value).toBe("Removed from the address: stage=bogus (not a stage).");
    model.setFilter("stage", "hot");
    expect(model.urlNotice.value).toBeNull();
    stop();
  });
});

describe("a sortable heading", () => {
  it("sorts by its column descending first, then reverses", () => {
    expect(nextSort("-score", "updated_at")).toBe("-updated_at");
    expect(nextSort("-updated_at", "updated_at")).toBe("updated_at");
    expect(nextSort("updated_at", "updated_at")).toBe("-updated_at");
    expect(nextSort("-score", "score")).toBe("score");
  });
});
