// @vitest-environment happy-dom
import { signal } from "@preact/signals";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Api, ApiRequestError, type Page } from "../src/lib/api.ts";
import type { Preview, PreviewResult, RuleSetDraft, RuleSetVersion } from "../src/rule-set-draft/api.ts";
import { PREVIEW_POLL_MS, previewShare, previewSummary, RuleSetDraftModel } from "../src/rule-set-draft/model.ts";
import { RULES, settle } from "./fakes.ts";

const DRAFT: RuleSetDraft = {
  rules: RULES.map((rule) => ({ ...rule, created_at: "2026-01-01T00:00:00.000Z" })),
  groups: [],
  based_on: 3,
  created_at: "2026-01-02T00:00:00.000Z",
  updated_at: "2026-01-02T00:00:00.000Z",
  updated_by: "admin",
};

const V3: RuleSetVersion = {
  version: 3,
  published_by: "admin",
  published_at: "2026-01-02T00:00:00.000Z",
  live: true,
  source: "rules",
};
const V2: RuleSetVersion = { ...V3, version: 2, published_at: "2026-01-01T00:00:00.000Z", live: false };
const VERSIONS = [V3, V2];

const RESULT: PreviewResult = {
  leads: 1000,
  events: 9000,
  changed: 412,
  stage_changes: 40,
  webhooks: 40,
  matrix: {
    cold: { cold: 500, warm: 3, hot: 0, qualified: 0 },
    warm: { cold: 0, warm: 200, hot: 0, qualified: 2 },
    hot: { cold: 0, warm: 0, hot: 100, qualified: 35 },
    qualified: { cold: 0, warm: 0, hot: 0, qualified: 160 },
  },
  histogram: { before: [{ from: 0, to: 99, count: 500 }], after: [{ from: 0, to: 99, count: 497 }] },
  movers: [],
};

function preview(state: Preview["state"], done = 0): Preview {
  return {
    id: "p1",
    state,
    based_on: 3,
    progress: { events_total: 100, events_read: done, events_done: done, leads_done: done, eta_seconds: 1 },
    ...(state === "done" ? { result: RESULT } : {}),
  };
}

/** An admin call answering by method and path, each recorded with its body. */
function routes(answers: Record<string, (body: unknown) => unknown>) {
  const calls: { method: string; path: string; body: unknown }[] = [];
  const admin = vi.fn(async (method: string, path: string, _token: string, body?: unknown) => {
    calls.push({ method, path, body });
    const answer = answers[`${method} ${path}`];
    if (!answer) throw new ApiRequestError(404, "NOT_FOUND", `no ${method} ${path}`);
    const value = answer(body);
    return { items: Array.isArray(value) ? value : [value], total: null, next: null } as Page<never>;
  });
  return { api: { admin: admin as unknown as Api["admin"] }, calls };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("the rule-set draft model", () => {
  it("has no draft until one is asked for, then starts one as a copy of the set in force", async () => {
    const { api, calls } = routes({
      "GET /api/rule-sets": () => VERSIONS,
      "POST /api/rule-sets/draft": () => DRAFT,
    });
    const model = new RuleSetDraftModel({ api, token: signal("admin-token") });
    await model.load();
    expect(model.draft.value).toBeNull();
    expect(model.status.value).toBe("ready");
    expect(model.versions.value.map((version) => version.version)).toEqual([3, 2]);

    await model.editAsDraft();
    expect(model.draft.value?.based_on).toBe(3);
    expect(calls.map((call) => `${call.method} ${call.path}`)).toContain("POST /api/rule-sets/draft");
  });

  it("writes the whole draft with the edited points, without the store's timestamps", async () => {
    const { api, calls } = routes({
      "GET /api/rule-sets": () => VERSIONS,
      "GET /api/rule-sets/draft": () => DRAFT,
      "PUT /api/rule-sets/draft": (body) => ({ ...DRAFT, ...(body as object) }),
    });
    const model = new RuleSetDraftModel({ api, token: signal("admin-token") });
    await model.load();
    model.edit("purchase", { points: "200" });
    expect(model.dirty.value).toBe(true);
    await model.save();
    const put = calls.find((call) => call.method === "PUT");
    expect(put?.body).toEqual({
      rules: [
        { _id: "email_open", event_type: "email_open", points: 10, active: true, label: "Email Open" },
        { _id: "purchase", event_type: "purchase", points: 200, active: true, label: "Purchase" },
      ],
      groups: [],
    });
    expect(model.dirty.value).toBe(false);
    expect(model.saved.value).toBe(true);
    expect(model.draft.value?.rules.find((rule) => rule._id === "purchase")?.points).toBe(200);
  });

  it("refuses points that are not a whole number, sending nothing", async () => {
    const { api, calls } = routes({ "GET /api/rule-sets": () => VERSIONS, "GET /api/rule-sets/draft": () => DRAFT });
    const model = new RuleSetDraftModel({ api, token: signal("admin-token") });
    await model.load();
    model.edit("purchase", { points: "1.5" });
    expect(model.problems.value).toEqual(["purchase: points must be a whole number"]);
    await model.save();
    expect(calls.some((call) => call.method === "PUT")).toBe(false);
  });

  it("shows the edge's refusal of a draft at its path", async () => {
    const { api } = routes({ "GET /api/rule-sets": () => VERSIONS, "GET /api/rule-sets/draft": () => DRAFT });
    (api.admin as unknown as ReturnType<typeof vi.fn>).mockImplementationOnce(async () => {
      throw new ApiRequestError(400, "VALIDATION_FAILED", "invalid rule set", [
        { path: "rules[1].points", message: "must be at most 1000" },
      ]);
    });
    const model = new RuleSetDraftModel({ api, token: signal("admin-token") });
    model.draft.value = DRAFT;
    model.edit("purchase", { points: "5000" });
    await model.save();
    expect(model.error.value).toBe("rules[1].points: must be at most 1000");
    expect(model.dirty.value).toBe(true);
  });

  it("polls a preview until it is done, then stops", async () => {
    vi.useFakeTimers();
    const answers = [preview("running", 50), preview("done", 100)];
    const { api, calls } = routes({
      "GET /api/rule-sets": () => VERSIONS,
      "GET /api/rule-sets/draft": () => DRAFT,
      "POST /api/rule-sets/draft/preview": () => preview("queued"),
      "GET /api/rule-sets/previews/p1": () => answers.shift() ?? preview("done", 100),
    });
    const model = new RuleSetDraftModel({ api, token: signal("admin-token") });
    await model.load();
    await model.startPreview();
    expect(model.previewRunning.value).toBe(true);
    await vi.advanceTimersByTimeAsync(PREVIEW_POLL_MS);
    expect(model.preview.value?.state).toBe("running");
    expect(previewShare(model.preview.value as Preview)).toBe(0.5);
    await vi.advanceTimersByTimeAsync(PREVIEW_POLL_MS);
    expect(model.preview.value?.state).toBe("done");
    expect(model.previewRunning.value).toBe(false);
    const polls = calls.filter((call) => call.path === "/api/rule-sets/previews/p1").length;
    await vi.advanceTimersByTimeAsync(PREVIEW_POLL_MS * 4);
    expect(calls.filter((call) => call.path === "/api/rule-sets/previews/p1").length).toBe(polls);
    model[Symbol.dispose]();
  });

  it("says when another preview runs", async () => {
    const { api } = routes({ "GET /api/rule-sets": () => VERSIONS, "GET /api/rule-sets/draft": () => DRAFT });
    (api.admin as unknown as ReturnType<typeof vi.fn>).mockImplementationOnce(async () => {
      throw new ApiRequestError(409, "CONFLICT", "another preview is running");
    });
    const model = new RuleSetDraftModel({ api, token: signal("admin-token") });
    await model.startPreview();
    expect(model.previewError.value).toBe("another preview is running");
    expect(model.preview.value).toBeNull();
  });

  it("publishes the draft for new events only, and the draft is used up", async () => {
    const published: RuleSetVersion = { ...V3, version: 4, source: "draft", mode: "forward" };
    const onPublished = vi.fn();
    const { api, calls } = routes({
      "GET /api/rule-sets": () => [published, ...VERSIONS],
      "GET /api/rule-sets/draft": () => DRAFT,
      "POST /api/rule-sets/draft/publish": () => published,
    });
    const model = new RuleSetDraftModel({ api, token: signal("admin-token"), onPublished });
    await model.load();
    await model.publishDraft();
    expect(calls.find((call) => call.path === "/api/rule-sets/draft/publish")?.body).toEqual({ mode: "forward" });
    expect(model.draft.value).toBeNull();
    expect(model.published.value?.version).toBe(4);
    expect(onPublished).toHaveBeenCalledWith(published);
    expect(model.versions.value[0]?.version).toBe(4);
  });

  it("publishes an earlier version again (a rollback)", async () => {
    const restored: RuleSetVersion = { ...V2, version: 4, live: true, source: "version", restores: 2 };
    const { api, calls } = routes({
      "GET /api/rule-sets": () => VERSIONS,
      "POST /api/rule-sets/2/publish": () => restored,
    });
    const model = new RuleSetDraftModel({ api, token: signal("admin-token") });
    await model.publishVersion(2);
    await settle();
    expect(calls.find((call) => call.path === "/api/rule-sets/2/publish")?.body).toEqual({ mode: "forward" });
    expect(model.published.value?.restores).toBe(2);
  });

  it("needs the admin token to start a draft", async () => {
    const { api, calls } = routes({});
    const model = new RuleSetDraftModel({ api, token: signal("") });
    await model.editAsDraft();
    expect(model.error.value).toMatch(/admin token/);
    expect(calls).toEqual([]);
  });
});

describe("the preview's headline", () => {
  it("counts the leads that change, become qualified, and the webhooks", () => {
    expect(previewSummary(RESULT)).toBe("412 leads change, 37 become qualified, 40 webhooks would fire");
  });
});

describe("the rule form writing into the draft", () => {
  function setup(fail?: ApiRequestError) {
    const { api, calls } = routes({
      "PUT /api/rule-sets/draft": (body) => {
        if (fail) throw fail;
        return { ...DRAFT, ...(body as object) };
      },
    });
    const model = new RuleSetDraftModel({ api, token: signal("admin-token") });
    model.draft.value = DRAFT;
    return { model, calls };
  }

  it("adds a new rule with an id and label of its own", async () => {
    const { model, calls } = setup();
    const rule = await model.writer.createRule({ event_type: "purchase", points: 5, active: true }, "admin-token");
    expect(rule).toEqual({ _id: "purchase_2", event_type: "purchase", label: "Purchase", points: 5, active: true });
    const put = calls.find((call) => call.method === "PUT")?.body as { rules: { _id: string }[] };
    expect(put.rules.map((item) => item._id)).toEqual(["email_open", "purchase", "purchase_2"]);
    expect(model.draft.value?.rules).toHaveLength(3);
  });

  it("changes a rule, a null removing its limit", async () => {
    const { model } = setup();
    model.draft.value = {
      ...DRAFT,
      rules: DRAFT.rules.map((rule) => (rule._id === "purchase" ? { ...rule, limit: { max: 1, per: "day" } } : rule)),
    };
    const rule = await model.writer.updateRule("purchase", { points: 7, limit: null }, "admin-token");
    expect(rule).toMatchObject({ _id: "purchase", points: 7 });
    expect(rule).not.toHaveProperty("limit");
  });

  it("puts the edge's problems at the rule's own fields", async () => {
    const refusal = new ApiRequestError(400, "VALIDATION_FAILED", "invalid rule set", [
      { path: "rules[1].points", message: "must be at most 1000" },
      { path: "rules[0].label", message: "is someone else's" },
    ]);
    const { model } = setup(refusal);
    const failure = await model.writer.updateRule("purchase", { points: 5000 }, "admin-token").catch((e) => e);
    expect((failure as ApiRequestError).details).toEqual([
      { path: "points", message: "must be at most 1000" },
      { path: "rules[0].label", message: "is someone else's" },
    ]);
  });

  it("refuses a write without a draft", async () => {
    const { model } = setup();
    model.draft.value = null;
    await expect(model.writer.updateRule("purchase", { points: 5 }, "admin-token")).rejects.toThrow(/no draft/);
  });
});
