// @vitest-environment happy-dom
// Preact's development checks, as in the browser tests' build: rendering an undefined component fails the test.
import "preact/debug";
import { signal } from "@preact/signals";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/preact";
import { afterEach, describe, expect, it } from "vitest";
import { App } from "../src/app/app.tsx";
import { createRouter } from "../src/app/router.ts";
import { createServices } from "../src/app/services.ts";
import { Headline } from "../src/headline/index.tsx";
import { HeadlineModel } from "../src/headline/model.ts";
import { LeadDetailPage } from "../src/lead-detail/index.tsx";
import { LeadDetailModel } from "../src/lead-detail/model.ts";
import { LeaderboardPage } from "../src/leaderboard/index.tsx";
import { LeaderboardModel } from "../src/leaderboard/model.ts";
import { LeadTable } from "../src/leads/index.tsx";
import { LeadsModel } from "../src/leads/model.ts";
import { ApiRequestError } from "../src/lib/api.ts";
import { RuleEditorModel } from "../src/rule-editor/model.ts";
import { RuleGroupsModel } from "../src/rule-groups/model.ts";
import { RuleTesterModel } from "../src/rule-tester/model.ts";
import { RulesPage } from "../src/rules/index.tsx";
import { RulesModel } from "../src/rules/model.ts";
import { EXPIRED_MESSAGE, REFUSED_MESSAGE, SESSION_KEY, SessionModel } from "../src/session/model.ts";
import { SubmitEventPage } from "../src/submit-event/index.tsx";
import { SubmitEventModel } from "../src/submit-event/model.ts";
import { entry, fakeApi, fakeRealtime, historyItem, lead, page, scoreUpdate, series } from "./fakes.ts";

afterEach(() => {
  cleanup();
  window.history.replaceState(null, "", "/");
});

function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

describe("the lead table", () => {
  function setup(api = fakeApi()) {
    const { socket, realtime } = fakeRealtime();
    const model = new LeadsModel({ api, realtime, url: { read: () => "", write: () => undefined } });
    render(<LeadTable model={model} now={Date.parse("2025-01-01T10:05:00Z")} />);
    return { socket, model };
  }

  it("shows the leads with score, stage and a link to each", async () => {
    const api = fakeApi();
    api.listLeads.mockResolvedValue(
      page(
        [
          lead({
            _id: "ada",
            name: "Ada Lovelace",
            company: "Engines",
            current_score: 350,
            stage: "hot",
            event_count: 4,
          }),
        ],
        1,
      ),
    );
    setup(api);
    const link = await screen.findByRole("link", { name: "Ada Lovelace" });
    expect(link.getAttribute("href")).toBe("/leads/ada");
    const row = link.closest("tr") as HTMLElement;
    expect(within(row).getByText("350")).toBeTruthy();
    expect(within(row).getByText("hot")).toBeTruthy();
    // Latest activity and update, each its own column.
    expect(within(row).getAllByText("5 min ago")).toHaveLength(2);
    expect(screen.getByText("1 lead")).toBeTruthy();
  });

  it("updates a score in place when it changes live", async () => {
    const api = fakeApi();
    api.listLeads.mockResolvedValue(page([lead({ _id: "ada", current_score: 10 })], 1));
    const { socket } = setup(api);
    await screen.findByRole("link", { name: "ada" });
    socket.scoreUpdate(scoreUpdate({ lead_id: "ada", current_score: 60 }));
    await waitFor(() => expect(screen.getByTestId("lead-score").textContent).toBe("60"));
    expect(screen.getByTestId("lead-score").closest("tr")?.className).toContain("flash-up");
  });

  it("says it is loading until the first page arrives", () => {
    setup(fakeApi({ listLeads: () => never() }));
    expect(screen.getByRole("status").textContent).toContain("Loading leads");
  });

  it("invites a first event when there are no leads", async () => {
    setup();
    expect(await screen.findByText(/No leads yet/)).toBeTruthy();
    expect(screen.getByRole("link", { name: "Send an event" }).getAttribute("href")).toBe("/events/new");
  });

  it("shows an error with a retry", async () => {
    const api = fakeApi();
    api.listLeads.mockRejectedValueOnce(new ApiRequestError(0, "NETWORK", "the server could not be reached"));
    setup(api);
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("the server could not be reached");
    fireEvent.click(within(alert).getByRole("button", { name: "Try again" }));
    expect(await screen.findByText(/No leads yet/)).toBeTruthy();
  });

  it("has a labelled control for every filter", () => {
    setup(fakeApi({ listLeads: () => never() }));
    for (const label of ["Search", "Company", "Min score", "Max score", "Stage", "Sort"]) {
      expect(screen.getByLabelText(label)).toBeTruthy();
    }
  });
});

describe("the headline", () => {
  const STATS = {
    leads: 3,
    by_stage: { cold: 3, warm: 0, hot: 0, qualified: 0 },
    score_histogram: [],
    events_24h: 12,
    scored_24h: 9,
    dead_letters_24h: 0,
  };
  function setup(deadLetters: number) {
    const api = fakeApi();
    api.stats.mockResolvedValue({ ...STATS, dead_letters_24h: deadLetters });
    const model = new HeadlineModel({ api, realtime: fakeRealtime().realtime });
    render(
      <Headline
        model={model}
        selectedStage=""
        onStage={() => undefined}
        selectedRange={null}
        onRange={() => undefined}
      />,
    );
  }

  it("says how many events the store refused in the last day, and where they are listed", async () => {
    setup(1234);
    const line = await screen.findByText(/refused by the store/);
    expect(line.textContent).toBe(
      "1,234 events in the last 24 h were refused by the store and not scored; an admin lists them at " +
        "GET /api/dead-letters.",
    );
  });

  it("says nothing of refused events when there were none", async () => {
    setup(0);
    await screen.findByText("12");
    expect(screen.queryByText(/refused by the store/)).toBeNull();
  });
});

describe("the lead page", () => {
  it("says why the score is what it is, by group and by rule, and shows each entry's rules", async () => {
    const api = fakeApi();
    api.getLead.mockResolvedValue(lead({ _id: "ada", current_score: 65, event_count: 3 }));
    api.leadBreakdown.mockResolvedValue({
      lead_id: "ada",
      score: 65,
      rules_version: 2,
      groups: [{ group: "email", label: "Email", max: 60, points: 5, events: 1 }],
      rules: [
        { rule_id: "pricing", label: "Pricing page", group: null, points: 60, events: 3 },
        { rule_id: "open", label: "Email open", group: "email", points: 5, events: 1 },
      ],
      unmatched: 0,
    });
    api.leadHistory.mockResolvedValue(
      page([
        historyItem({
          event_id: "e4",
          points: 20,
          delta: 0,
          score: 65,
          reason: "page_view +0 (limit 3 per day reached)",
          rule_id: "pricing",
          rules: [{ rule_id: "pricing", group: null, asked: 20, given: 0, cuts: ["limit 3 per day reached"] }],
        }),
      ]),
    );
    const { realtime } = fakeRealtime();
    render(<LeadDetailPage model={new LeadDetailModel({ api, realtime }, "ada")} />);
    const byRule = await screen.findByRole("table", { name: "Points by rule" });
    expect(within(byRule).getByRole("row", { name: /Pricing page/ }).textContent).toBe("Pricing page—+603");
    const byGroup = screen.getByRole("table", { name: "Points by group" });
    expect(within(byGroup).getByRole("row", { name: /Email/ }).textContent).toBe("Email+5601");
    expect(screen.getByTestId("breakdown-total").textContent).toContain("2 rules gave +65");
    const rules = await screen.findByRole("list", { name: "Matched rules" });
    expect(rules.textContent).toBe("Pricing page ±0 of +20 asked (limit 3 per day reached)");
    // Said once, by the rule it cut, not again as the entry's note.
    expect(screen.getAllByText(/limit 3 per day reached/)).toHaveLength(1);
  });

  function setup(api = fakeApi()) {
    const { socket, realtime } = fakeRealtime();
    const model = new LeadDetailModel({ api, realtime }, "ada");
    render(<LeadDetailPage model={model} />);
    return { socket };
  }

  it("shows the profile, the chart and the timeline with late events marked", async () => {
    const api = fakeApi();
    api.getLead.mockResolvedValue(
      lead({
        _id: "ada",
        name: "Ada",
        email: "ada@example.com",
        current_score: 115,
        stage: "warm",
        event_count: 2,
        rank: 7,
        rank_of: 1234,
        merged_from: [{ id: "anon-7f3c9a2e-41b0", events: 3 }],
      }),
    );
    api.leadSeries.mockResolvedValue(
      series([
        { timestamp: "2025-01-01T09:00:00.000Z", score: 105 },
        { timestamp: "2025-01-01T10:00:00.000Z", score: 115 },
      ]),
    );
    api.leadHistory.mockResolvedValue(
      page([
        historyItem({
          event_id: "e2",
          event_type: "email_open",
          points: 10,
          delta: 10,
          score: 115,
          reason: "email_open +10",
        }),
        historyItem({
          event_id: "e1",
          event_type: "purchase",
          points: 100,
          delta: 100,
          score: 105,
          reason: "purchase +100",
          late: true,
        }),
      ]),
    );
    setup(api);
    expect(await screen.findByRole("heading", { level: 1, name: "Ada" })).toBeTruthy();
    expect(screen.getByTestId("current-score").textContent).toBe("115");
    expect(screen.getByTestId("lead-rank").textContent).toBe("#7 of 1,234");
    expect(screen.getByTestId("merged-from").textContent).toBe("merged from anon-7f3c… (3 events)");
    expect(screen.getByText("ada@example.com")).toBeTruthy();
    const timeline = await screen.findByRole("list", { name: "Score history" });
    const items = within(timeline).getAllByRole("listitem");
    expect(items).toHaveLength(2);
    expect(within(items[1] as HTMLElement).getByText("late")).toBeTruthy();
    // The type once, with its points; the reason says nothing more here, so it is not repeated.
    expect(within(items[1] as HTMLElement).getAllByText("purchase")).toHaveLength(1);
    expect(within(items[1] as HTMLElement).queryByText("purchase +100")).toBeNull();
    await waitFor(() => expect(screen.getByRole("img").getAttribute("aria-label")).toMatch(/2 events.*score now 115/));
    expect(screen.getByText(/^Score after each event, by event time, over the whole history/)).toBeTruthy();
  });

  it("shows a merge entry of the history with what it brought and the scores either side, and no event details", async () => {
    const api = fakeApi();
    api.getLead.mockResolvedValue(lead({ _id: "ada", name: "Ada", current_score: 35, event_count: 4 }));
    api.leadHistory.mockResolvedValue(
      page([
        historyItem({
          event_id: "merge:anon-7f3c1a2b3c4d",
          event_type: "merge",
          points: 0,
          delta: 0,
          score: 35,
          reason: "merged from anon-7f3c1a2b3c4d (3 events)",
          rule_id: null,
          cause: "merge",
          merge: { from: "anon-7f3c1a2b3c4d", events: 3, score_before: 20, score_after: 35 },
        }),
        historyItem({ event_id: "f1", event_type: "form_submission", points: 20, delta: 20, score: 20 }),
      ]),
    );
    setup(api);
    const timeline = await screen.findByRole("list", { name: "Score history" });
    const [merge, form] = within(timeline).getAllByRole("listitem") as HTMLElement[];
    expect(within(merge as HTMLElement).getByText("merged from anon-7f3c… (3 events), 20 → 35")).toBeTruthy();
    expect(within(merge as HTMLElement).queryByRole("button", { name: /Details/ })).toBeNull();
    expect(within(form as HTMLElement).getByRole("button", { name: "Details of form_submission" })).toBeTruthy();
  });

  it("names a history row's matched rule by a placeholder until the rules' labels arrive, never by its id", async () => {
    const api = fakeApi();
    let rulesArrive: (rules: Awaited<ReturnType<typeof api.listRules>>) => void = () => undefined;
    api.listRules.mockReturnValue(new Promise((resolve) => (rulesArrive = resolve)));
    api.leadBreakdown.mockReturnValue(never());
    api.leadHistory.mockResolvedValue(
      page([
        historyItem({
          event_id: "v1",
          event_type: "page_view",
          points: 5,
          delta: 5,
          score: 5,
          rule_id: "page_view",
          rules: [{ rule_id: "page_view", group: null, asked: 5, given: 5, cuts: [] }],
        }),
      ]),
    );
    setup(api);
    const rules = await screen.findByRole("list", { name: "Matched rules" });
    expect(rules.textContent).toBe("… +5");
    rulesArrive([{ _id: "page_view", event_type: "page_view", points: 5, active: true, label: "Page View" }]);
    await waitFor(() => expect(rules.textContent).toBe("Page View +5"));
  });

  it("names a matched rule by its id once the rules are read without it, or cannot be read", async () => {
    const api = fakeApi();
    api.listRules.mockRejectedValueOnce(new Error("down"));
    api.leadHistory.mockResolvedValue(
      page([
        historyItem({
          event_id: "v1",
          rule_id: "gone",
          rules: [{ rule_id: "gone", group: null, asked: 5, given: 5, cuts: [] }],
        }),
      ]),
    );
    setup(api);
    const rules = await screen.findByRole("list", { name: "Matched rules" });
    await waitFor(() => expect(rules.textContent).toBe("gone +5"));
  });

  it("shows a re-score entry of the history with the versions, the scores and the stages either side", async () => {
    const api = fakeApi();
    api.getLead.mockResolvedValue(lead({ _id: "ada", name: "Ada", current_score: 120, event_count: 2 }));
    api.leadHistory.mockResolvedValue(
      page([
        historyItem({
          event_id: "rescore:4",
          event_type: "rescore",
          points: 0,
          delta: 0,
          score: 120,
          reason: "re-scored from version 3 to version 4: 70 → 120",
          rule_id: null,
          cause: "rescore",
          rules_version: 4,
          rescore: {
            from_version: 3,
            to_version: 4,
            score_before: 70,
            score_after: 120,
            delta: 50,
            stage_before: "cold",
            stage_after: "warm",
          },
        }),
        historyItem({ event_id: "d1", event_type: "demo_request", points: 100, delta: 100, score: 120 }),
      ]),
    );
    setup(api);
    const timeline = await screen.findByRole("list", { name: "Score history" });
    const [rescore] = within(timeline).getAllByRole("listitem") as HTMLElement[];
    expect(within(rescore as HTMLElement).getByText("re-scored v3 → v4: 70 → 120 (+50), cold → warm")).toBeTruthy();
    expect(within(rescore as HTMLElement).queryByRole("button", { name: /Details/ })).toBeNull();
  });

  it("charts a long history from its spans, a page as a band, with the stage lines and the stages entered", async () => {
    const api = fakeApi();
    api.getLead.mockResolvedValue(lead({ _id: "ada", current_score: 40, event_count: 5000 }));
    const read = series([{ timestamp: "2025-01-03T00:00:00.000Z", score: 40 }]);
    read.spans.unshift({
      from: "2025-01-01T00:00:00.000Z",
      to: "2025-01-02T00:00:00.000Z",
      first: 5,
      last: 250,
      min: 5,
      max: 700,
      entries: 4999,
    });
    api.leadSeries.mockResolvedValue(read);
    setup(api);
    const chart = await screen.findByRole("img");
    expect(chart.getAttribute("aria-label")).toMatch(/5,000 events.*score now 40, highest 700; entered warm .*, cold /);
    expect([...chart.querySelectorAll(".chart-threshold")].map((line) => line.getAttribute("data-stage"))).toEqual([
      "warm",
      "hot",
      "qualified",
    ]);
    expect(chart.querySelectorAll(".chart-band")).toHaveLength(1);
  });

  it("offers a retry when the chart cannot be read", async () => {
    const api = fakeApi();
    api.leadSeries.mockRejectedValue(new ApiRequestError(503, "SERVICE_UNAVAILABLE", "Redis is unavailable"));
    setup(api);
    expect(await screen.findByText("The chart could not be loaded.")).toBeTruthy();
    expect(screen.getByText("Redis is unavailable")).toBeTruthy();
  });

  it("says when the lead has no events yet", async () => {
    setup();
    expect(await screen.findByText("No scored events yet.")).toBeTruthy();
  });

  it("says when there is no such lead", async () => {
    const api = fakeApi();
    api.getLead.mockRejectedValue(new ApiRequestError(404, "NOT_FOUND", "no lead"));
    setup(api);
    expect(await screen.findByRole("heading", { name: "Lead not found" })).toBeTruthy();
  });

  it("shows a live score as it arrives", async () => {
    const api = fakeApi();
    const { socket } = setup(api);
    await screen.findByTestId("current-score");
    socket.scoreUpdate(scoreUpdate({ lead_id: "ada", current_score: 42 }));
    await waitFor(() => expect(screen.getByTestId("current-score").textContent).toBe("42"));
  });
});

describe("the leaderboard page", () => {
  it("ranks the leads and shows movement after a live broadcast", async () => {
    const api = fakeApi({
      leaderboard: async () => [entry("a", 90, { name: "Ann" }), entry("b", 80, { name: "Bob" })],
    });
    const { socket, realtime } = fakeRealtime();
    render(<LeaderboardPage model={new LeaderboardModel({ api, realtime })} />);
    await screen.findByRole("link", { name: "Ann" });
    socket.leaderboard({ top: [entry("b", 95, { name: "Bob" }), entry("a", 90, { name: "Ann" })] });
    await waitFor(() => {
      const rows = screen.getAllByRole("listitem");
      expect(rows[0]?.textContent).toContain("Bob");
      expect(rows[0]?.textContent).toContain("up 1");
      expect(rows[1]?.textContent).toContain("down 1");
    });
  });

  it("says when nobody has scored yet", async () => {
    render(<LeaderboardPage model={new LeaderboardModel({ api: fakeApi(), realtime: fakeRealtime().realtime })} />);
    expect(await screen.findByText("No scored leads yet.")).toBeTruthy();
  });
});

describe("the submit-event page", () => {
  it("builds its choices from the event types and shows the API's error on the field", async () => {
    const api = fakeApi({
      submitEvent: async () => {
        throw new ApiRequestError(400, "VALIDATION_FAILED", "invalid event", [
          { path: "lead_id", message: "must be 1-128 characters of A-Z a-z 0-9 . _ : -" },
        ]);
      },
    });
    const model = new SubmitEventModel({ api, writeKey: signal("dev-write-key") });
    render(<SubmitEventPage model={model} />);
    expect(await screen.findByRole("option", { name: "Purchase (+100)" })).toBeTruthy();
    fireEvent.input(screen.getByLabelText("Lead id"), { target: { value: "not valid!" } });
    fireEvent.click(screen.getByRole("button", { name: "Send event" }));
    const error = await screen.findByText("must be 1-128 characters of A-Z a-z 0-9 . _ : -");
    const input = screen.getByLabelText("Lead id");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(input.getAttribute("aria-describedby")).toContain(error.id);
  });

  it("confirms an accepted event with a link to its lead", async () => {
    const model = new SubmitEventModel({ api: fakeApi(), writeKey: signal("k") });
    render(<SubmitEventPage model={model} />);
    await screen.findByRole("option", { name: "Purchase (+100)" });
    fireEvent.input(screen.getByLabelText("Lead id"), { target: { value: "lead-7" } });
    fireEvent.click(screen.getByRole("button", { name: "Send event" }));
    // Sending waits for the form's validation chunk (zod), whose first import took over a second on a loaded machine.
    const link = await screen.findByRole("link", { name: "lead-7" }, { timeout: 5000 });
    expect(link.getAttribute("href")).toBe("/leads/lead-7");
  });
});

describe("the rules page", () => {
  function renderRules(api: ReturnType<typeof fakeApi>, admin: string) {
    const token = signal(admin);
    const model = new RulesModel({ api, token });
    const groups = new RuleGroupsModel({ api, token });
    const editor = new RuleEditorModel({
      api,
      token,
      groups: groups.groups,
      onSaved: (rule, created) => model.written(rule, created),
    });
    render(<RulesPage model={model} editor={editor} groups={groups} tester={new RuleTesterModel({ api, token })} />);
  }

  it("lists rules with editable points and saves a change", async () => {
    const api = fakeApi();
    renderRules(api, "admin-token-1");
    const points = await screen.findByLabelText("Points for purchase");
    fireEvent.input(points, { target: { value: "120" } });
    fireEvent.click(screen.getByRole("button", { name: "Save purchase" }));
    expect(await screen.findByText("Saved")).toBeTruthy();
    expect(api.updateRule).toHaveBeenCalledWith("purchase", { points: 120, active: true }, "admin-token-1");
  });

  it("shows an error with a retry when the rules cannot be read", async () => {
    const api = fakeApi();
    api.listRules.mockRejectedValueOnce(new Error("down"));
    renderRules(api, "");
    expect((await screen.findByRole("alert")).textContent).toContain("down");
  });

  it("opens a rule with a condition, limit and group in the rule form and saves it whole", async () => {
    const api = fakeApi();
    api.listRules.mockResolvedValue([
      {
        _id: "pricing",
        event_type: "page_view",
        label: "Pricing page",
        where: { not: { field: "metadata.path", op: "starts_with", value: "/blog", case: "insensitive" } },
        points: 20,
        limit: { max: 3, per: "day" },
        group: "web",
        active: true,
      },
    ]);
    api.listRuleGroups.mockResolvedValue([{ _id: "web", label: "Web", max: 100 }]);
    renderRules(api, "admin-token-1");
    const row = (await screen.findByText('not metadata.path starts with "/blog" (any case)')).closest("tr");
    expect(row?.textContent).toContain("at most 3 a day");
    await waitFor(() => expect(row?.textContent).toContain("Web (max 100)"));
    fireEvent.click(screen.getByRole("button", { name: "Edit page_view" }));
    expect(screen.getByRole("heading", { name: "Edit rule Pricing page" })).toBeTruthy();
    expect((screen.getByLabelText("Value of condition 1") as HTMLInputElement).value).toBe("/blog");
    expect((screen.getByLabelText("not (condition 1)") as HTMLInputElement).checked).toBe(true);
    expect((screen.getByLabelText("At most") as HTMLInputElement).value).toBe("3");
    expect((screen.getByLabelText("Group") as HTMLSelectElement).value).toBe("web");
    fireEvent.input(screen.getByLabelText("At most"), { target: { value: "5" } });
    fireEvent.click(screen.getByRole("button", { name: "Save rule" }));
    await waitFor(() => expect(api.updateRule).toHaveBeenCalled(), { timeout: 5000 });
    expect(api.updateRule).toHaveBeenCalledWith(
      "pricing",
      {
        label: "Pricing page",
        event_type: "page_view",
        points: 20,
        active: true,
        where: { not: { field: "metadata.path", op: "starts_with", value: "/blog", case: "insensitive" } },
        limit: { max: 5, per: "day" },
        group: "web",
      },
      "admin-token-1",
    );
  });

  it("builds a condition in rows, and shows the edge's problem at the value of the row its path names", async () => {
    const api = fakeApi();
    api.createRule.mockRejectedValueOnce(
      new ApiRequestError(400, "VALIDATION_FAILED", "invalid rule", [
        { path: "where.all[1].value", message: "is not a plan we sell" },
      ]),
    );
    renderRules(api, "admin-token-1");
    await screen.findByLabelText("Points for purchase");
    fireEvent.input(screen.getByLabelText("Event type"), { target: { value: "page_view" } });
    fireEvent.input(screen.getByLabelText("Points", { exact: true } as never), { target: { value: "20" } });
    fireEvent.click(screen.getByRole("button", { name: "Add condition" }));
    fireEvent.click(screen.getByRole("button", { name: "Add condition" }));
    fireEvent.input(screen.getByLabelText("Field of condition 1"), { target: { value: "metadata.path" } });
    fireEvent.change(screen.getByLabelText("Operator of condition 1"), { target: { value: "starts_with" } });
    fireEvent.input(screen.getByLabelText("Value of condition 1"), { target: { value: "/pricing" } });
    fireEvent.input(screen.getByLabelText("Field of condition 2"), { target: { value: "metadata.plan" } });
    fireEvent.input(screen.getByLabelText("Value of condition 2"), { target: { value: "gold" } });
    expect(screen.getByTestId("condition-preview").textContent).toBe(
      'When metadata.path starts with "/pricing" and metadata.plan equals "gold"',
    );
    fireEvent.click(screen.getByRole("button", { name: "Create rule" }));
    const value = screen.getByLabelText("Value of condition 2");
    await waitFor(() => expect(value.getAttribute("aria-invalid")).toBe("true"), { timeout: 5000 });
    expect(document.getElementById(value.getAttribute("aria-describedby") ?? "")?.textContent).toBe(
      "is not a plan we sell",
    );
    expect(api.createRule).toHaveBeenCalledWith(
      {
        event_type: "page_view",
        where: {
          all: [
            { field: "metadata.path", op: "starts_with", value: "/pricing" },
            { field: "metadata.plan", op: "eq", value: "gold" },
          ],
        },
        points: 20,
        active: true,
      },
      "admin-token-1",
    );
  });
});

describe("the app", () => {
  function renderApp(path: string, token = "a-read-token", api = fakeApi()) {
    window.history.replaceState(null, "", path);
    const { realtime } = fakeRealtime();
    const tab = new Map<string, string>(token ? [[SESSION_KEY, JSON.stringify({ token, role: "read" })]] : []);
    const store = {
      getItem: (key: string) => tab.get(key) ?? null,
      setItem: (key: string, value: string) => void tab.set(key, value),
      removeItem: (key: string) => void tab.delete(key),
    };
    const session = new SessionModel({
      stores: { tab: store, browser: null, channel: null },
      verify: (candidate) => api.checkToken(candidate),
    });
    const services = createServices({ api, realtime, router: createRouter(window), storage: null, session });
    render(<App services={services} />);
    return { session, api };
  }

  it("has landmarks, a skip link and marks the current page in the navigation", async () => {
    renderApp("/leaderboard");
    expect(screen.getByRole("main")).toBeTruthy();
    expect(screen.getByRole("navigation", { name: "Main" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "Skip to content" }).getAttribute("href")).toBe("#main");
    expect(screen.getByRole("link", { name: "Leaderboard" }).getAttribute("aria-current")).toBe("page");
    expect(screen.getByText("Live")).toBeTruthy();
  });

  it("navigates without a page load and shows Not found for unknown paths", async () => {
    renderApp("/nowhere");
    expect(screen.getByRole("heading", { name: "Page not found" })).toBeTruthy();
    fireEvent.click(screen.getByRole("link", { name: "Rules" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Scoring rules" })).toBeTruthy();
    expect(window.location.pathname).toBe("/rules");
  });

  it("goes from one page loaded on its first visit to another and back", async () => {
    renderApp("/rules");
    expect(await screen.findByRole("heading", { level: 1, name: "Scoring rules" })).toBeTruthy();
    fireEvent.click(screen.getByRole("link", { name: "Webhooks" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Webhooks" })).toBeTruthy();
    fireEvent.click(screen.getByRole("link", { name: "Rules" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Scoring rules" })).toBeTruthy();
  });

  it("asks for the access token first, and shows nothing else until it is accepted", async () => {
    const { api } = renderApp("/rules", "");
    expect(screen.getByRole("heading", { level: 1, name: "Sign in" })).toBeTruthy();
    expect(screen.queryByRole("navigation", { name: "Main" })).toBeNull();
    expect(api.listRules).not.toHaveBeenCalled();

    fireEvent.input(screen.getByLabelText("Access token"), { target: { value: "  a-read-token " } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Scoring rules" })).toBeTruthy();
    expect(api.checkToken).toHaveBeenCalledWith("a-read-token");
    expect(screen.getByRole("navigation", { name: "Main" })).toBeTruthy();
  });

  it("says so when the token is refused, and stays on the sign-in page", async () => {
    const api = fakeApi();
    api.checkToken.mockRejectedValueOnce(new ApiRequestError(401, "UNAUTHORIZED", "the read token is not valid"));
    renderApp("/", "", api);
    fireEvent.input(screen.getByLabelText("Access token"), { target: { value: "wrong" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect((await screen.findByRole("alert")).textContent).toBe(REFUSED_MESSAGE);
    expect(screen.getByRole("heading", { level: 1, name: "Sign in" })).toBeTruthy();
  });

  it("signs out, and returns to the sign-in page with a reason when a read is refused", async () => {
    const { session } = renderApp("/leaderboard");
    fireEvent.click(screen.getByRole("button", { name: "Sign out" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Sign in" })).toBeTruthy();
    expect(screen.queryByRole("alert")).toBeNull();

    fireEvent.input(screen.getByLabelText("Access token"), { target: { value: "a-read-token" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { level: 1, name: "Leaderboard" })).toBeTruthy();
    session.expire();
    expect((await screen.findByRole("alert")).textContent).toBe(EXPIRED_MESSAGE);
    expect(screen.getByLabelText("Access token")).toBeTruthy();
  });

  it("disposes a lead's model when another lead is opened, so the first lead's listener and room go", () => {
    const { realtime, held } = fakeRealtime();
    const services = createServices({ api: fakeApi(), realtime, router: createRouter(window), storage: null });
    const first = services.leadDetail("ada");
    expect(services.leadDetail("ada")).toBe(first);
    first.activate();
    // Its score listener, its merge listener and its room.
    expect(held()).toBe(3);
    services.leadDetail("grace");
    expect(held()).toBe(0);
  });
});
