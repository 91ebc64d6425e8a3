// Each of live's scripts run directly against Redis, with its arguments as its header spells them.
import { STAGES } from "@leadscore/contracts";
import { redisScript } from "@leadscore/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { createTestRedis, uniqueName } from "../../test-support/index.ts";
import { redisRunId } from "../src/generation.ts";
import { indexKeys, type LiveKeys, liveKeys } from "../src/keys.ts";
import { MOVEMENT_CAP, MOVEMENT_WINDOW_MS } from "../src/movements.ts";
import { decodeOutboxMessage, type OutboxMessage } from "../src/outbox.ts";

const script = <Reply>(file: string) => redisScript<Reply>(new URL(`../src/lua/${file}`, import.meta.url));
const commitLeads = script<string | string[]>("commit-leads.lua");
const setProfile = script<number>("set-profile-9.lua");
const searchTexts = script<string[]>("search-texts-3.lua");
const searchIds = script<string[]>("search-ids-2.lua");
const pageAfter = script<string[]>("page-after-1.lua");
const renewGeneration = script<number>("renew-generation-1.lua");

let test: Awaited<ReturnType<typeof createTestRedis>> | undefined;
afterEach(async () => {
  await test?.cleanup();
  test = undefined;
});

async function fresh() {
  const prefix = uniqueName("live-scripts");
  test = await createTestRedis(prefix);
  return { redis: test.redis, keys: liveKeys(prefix) };
}

interface Lead {
  id: string;
  mode: "c" | "p" | "r" | "f" | "m" | "a";
  expected: string;
  rank: number;
  updated: number;
  stage: string;
  drained?: number;
  rescans?: string;
  appendTail?: string;
  appendPages?: string;
  fields?: Record<string, string>;
  pending?: string[];
  messages?: [string, string][];
  movement?: string;
  /** Mode 'm': the merge's record (its wire form) and the events the merged lead brought; `movement` names the root. */
  merge?: { record: string; brought: number };
}

/** One call of commit-leads.lua, laid out as its header says. */
function commit(
  redis: Awaited<ReturnType<typeof fresh>>["redis"],
  keys: LiveKeys,
  gen: string,
  leads: Lead[],
  movements = { window: MOVEMENT_WINDOW_MS, cap: MOVEMENT_CAP },
) {
  const keyList = [keys.gen, ...indexKeys(keys)];
  const args: (string | number)[] = [gen, ...STAGES, "#", movements.window, movements.cap, leads.length];
  for (const lead of leads) {
    keyList.push(keys.lead(lead.id), keys.deepEvents(lead.id));
    const into = lead.movement ?? "";
    if (lead.mode === "m") {
      keyList.push(keys.mergedFrom(lead.id), keys.mergeLog(lead.id), keys.rescoreLog(lead.id));
      keyList.push(keys.mergedFrom(into), keys.mergeLog(into), keys.rescoreLog(into), keys.searchTexts);
    }
    const fields = Object.entries(lead.fields ?? {});
    const pending = lead.pending ?? [];
    const messages = lead.messages ?? [];
    args.push(lead.id, lead.mode, lead.expected, lead.rank, lead.updated, lead.stage, lead.drained ?? 0);
    args.push(lead.rescans ?? "0", lead.appendTail ?? "", lead.appendPages ?? "", lead.movement ?? "");
    args.push(fields.length, pending.length, messages.length, ...fields.flat(), ...pending, ...messages.flat());
    if (lead.mode === "m") args.push(lead.merge?.record ?? "{}", lead.merge?.brought ?? 0);
  }
  keyList.push(keys.byLastEvent, keys.aliases, keys.outbox.stream, keys.outbox.wants);
  return commitLeads.run(redis, keyList, args);
}

async function outbox(redis: Awaited<ReturnType<typeof fresh>>["redis"], keys: LiveKeys): Promise<OutboxMessage[]> {
  return (await redis.xrange(keys.outbox.stream, "-", "+")).map(([, fields]) => decodeOutboxMessage(fields));
}

const event = (id: string, type: string, at: number) => JSON.stringify([id, type, at]);

describe("commit-leads.lua", () => {
  describe("movements", () => {
    const moving = (id: string, updated: number, stage = "hot", movement = '["e","small",1,300]'): Lead => ({
      id,
      mode: "c",
      expected: "0",
      rank: -300,
      updated,
      stage,
      fields: { s: "300", st: stage },
      movement,
    });

    it("records a lead entering a stage in that stage's stream, and nothing when the stage stays or no event is given", async () => {
      const { redis, keys } = await fresh();
      await redis.set(keys.gen, "g");
      expect(
        await commit(redis, keys, "g", [moving("a", 1_000), moving("b", 1_000, "cold"), moving("c", 1_000, "hot", "")]),
      ).toEqual(["o", "o", "o"]);
      const entries = await redis.xrange(keys.movedInto("hot"), "-", "+");
      expect(entries.map(([, fields]) => fields)).toEqual([
        ["lead", "a", "from", "cold", "at", "1000", "e", '["e","small",1,300]'],
      ]);
      expect(await redis.xlen(keys.movedInto("cold"))).toBe(0);
      // Hot again: no movement.
      expect(await commit(redis, keys, "g", [{ ...moving("a", 2_000), expected: "1" }])).toEqual(["o"]);
      expect(await redis.xlen(keys.movedInto("hot"))).toBe(1);
    });

    it("keeps each stream bounded: about `cap` entries, none much older than the window", async () => {
      const { redis, keys } = await fresh();
      await redis.set(keys.gen, "g");
      const bounds = { window: 60_000, cap: 100 };
      const many = (from: number, count: number, updated: number) =>
        Array.from({ length: count }, (_, n) => moving(`l${from + n}`, updated));
      for (let from = 0; from < 1_000; from += 100) {
        expect(await commit(redis, keys, "g", many(from, 100, 1_000), bounds)).toHaveLength(100);
      }
      const capped = await redis.xlen(keys.movedInto("hot"));
      // MAXLEN ~ trims whole stream nodes only (at most 100 entries each).
      expect(capped).toBeGreaterThanOrEqual(100);
      expect(capped).toBeLessThanOrEqual(200);
      // Entries from long ago (their ids are the times Redis added them), then one more now: every full node of
      // entries older than the window goes.
      const hot = keys.movedInto("hot");
      await redis.del(hot);
      for (let n = 1; n <= 300; n++)
        await redis.xadd(hot, `${n}-0`, "lead", `old${n}`, "from", "cold", "at", n, "e", "[]");
      await commit(redis, keys, "g", [moving("late", Date.now())], bounds);
      expect(await redis.xlen(hot)).toBeLessThanOrEqual(101);
      const [, fields] = (await redis.xrevrange(hot, "+", "-", "COUNT", 1))[0] ?? [];
      expect(fields?.[1]).toBe("late");
    });
  });

  it("writes nothing and answers 'stale' when the generation is not the one the worker read", async () => {
    const { redis, keys } = await fresh();
    await redis.set(keys.gen, "g2");
    const lead: Lead = { id: "a", mode: "c", expected: "0", rank: -5, updated: 10, stage: "cold", fields: { s: "5" } };
    expect(await commit(redis, keys, "g1", [lead])).toBe("stale");
    expect(await redis.exists(keys.lead("a"), keys.byScore)).toBe(0);
  });

  it("commits a lead whose version matches: fields, version, every index, its message, its webhook messages", async () => {
    const { redis, keys } = await fresh();
    await redis.set(keys.gen, "g");
    await redis.set(keys.outbox.wants, "csx");
    const subscriber = redis.duplicate();
    const heard: string[] = [];
    const channel = `${keys.gen}:updates`;
    await subscriber.subscribe(channel);
    subscriber.on("message", (_channel: string, message: string) => heard.push(message));
    const lead: Lead = {
      id: "a",
      mode: "c",
      expected: "0",
      rank: -150,
      updated: 1_000,
      stage: "warm",
      appendTail: '["e1"]',
      fields: { s: "150", st: "warm", n: "1", le: "900" },
      pending: [event("e1", "demo_request", 900)],
      messages: [[channel, "scored a"]],
    };
    expect(await commit(redis, keys, "g", [lead])).toEqual(["o"]);
    expect(await redis.hgetall(keys.lead("a"))).toEqual({
      s: "150",
      st: "warm",
      n: "1",
      le: "900",
      v: "1",
      t: '[["e1"]]',
    });
    expect(await redis.zscore(keys.byLastEvent, "a")).toBe("900");
    expect(await redis.zscore(keys.byScore, "a")).toBe("-150");
    expect(await redis.zscore(keys.byUpdated, "a")).toBe("1000");
    expect(await redis.zscore(keys.byUpdatedIn("warm"), "a")).toBe("1000");
    expect(await redis.zscore(keys.byLastEventIn("warm"), "a")).toBe("900");
    const base = { lead: "a", to: "warm", score: "150", event: "e1", etype: "demo_request", at: "1000", rank: "1" };
    expect(await outbox(redis, keys)).toEqual([
      { ...base, type: "lead.created", from: "", prev: "" },
      { ...base, type: "lead.stage_changed", from: "cold", prev: "0" },
      { ...base, type: "lead.score_changed", from: "cold", prev: "0" },
    ]);
    await expect.poll(() => heard).toEqual(["scored a"]);
    subscriber.disconnect();

    // The next commit moves the lead out of its old stage's index and appends to its tail; no subscription wants
    // anything now, so no message is recorded.
    await redis.del(keys.outbox.wants);
    const next: Lead = { ...lead, expected: "1", rank: -400, updated: 2_000, stage: "hot", messages: [] };
    next.fields = { s: "400", st: "hot", n: "2" };
    next.appendTail = '["e2"]';
    expect(await commit(redis, keys, "g", [next])).toEqual(["o"]);
    expect(await redis.hmget(keys.lead("a"), "v", "st", "t")).toEqual(["2", "hot", '[["e1"],["e2"]]']);
    expect(await redis.zscore(keys.byUpdatedIn("warm"), "a")).toBeNull();
    expect(await redis.zscore(keys.byUpdatedIn("hot"), "a")).toBe("2000");
    // No new event in this commit: the lead's activity moves to its new stage's index as it stood.
    expect(await redis.zscore(keys.byLastEventIn("warm"), "a")).toBeNull();
    expect(await redis.zscore(keys.byLastEventIn("hot"), "a")).toBe("900");
    expect(await redis.xlen(keys.outbox.stream)).toBe(3);
  });

  it("refuses a lead whose version moved (compare-and-set lost): nothing of it is written", async () => {
    const { redis, keys } = await fresh();
    await redis.set(keys.gen, "g");
    await redis.hset(keys.lead("a"), "v", "3", "s", "10", "st", "cold");
    await redis.set(keys.outbox.wants, "csx");
    const stale: Lead = {
      id: "a",
      mode: "c",
      expected: "2",
      rank: -99,
      updated: 5,
      stage: "cold",
      fields: { s: "99" },
    };
    const other: Lead = { id: "b", mode: "c", expected: "0", rank: -1, updated: 5, stage: "cold", fields: { s: "1" } };
    expect(await commit(redis, keys, "g", [stale, other])).toEqual(["c", "o"]);
    expect(await redis.hmget(keys.lead("a"), "v", "s")).toEqual(["3", "10"]);
    expect(await redis.zscore(keys.byScore, "a")).toBeNull();
    expect((await outbox(redis, keys)).map((m) => m.lead)).toEqual(["b", "b"]);
  });

  it("diverts a lead to the deep lane with its events, and the deep lane's commit drains and releases it", async () => {
    const { redis, keys } = await fresh();
    await redis.set(keys.gen, "g");
    const pending = [event("e1", "page_view", 1), event("e2", "page_view", 2)];
    const paged: Lead = { id: "a", mode: "p", expected: "0", rank: 0, updated: 1, stage: "cold", pending };
    expect(await commit(redis, keys, "g", [paged])).toEqual(["d"]);
    expect(await redis.lrange(keys.deepEvents("a"), 0, -1)).toEqual(pending);
    expect(await redis.hget(keys.deep, "a")).toBe("0");
    expect(await redis.exists(keys.lead("a"))).toBe(0);
    // While the deep lane owns it, a plain commit diverts its events too; a rescan counts the ask.
    const plain: Lead = { ...paged, mode: "c", pending: [event("e3", "page_view", 3)] };
    expect(await commit(redis, keys, "g", [plain])).toEqual(["d"]);
    expect(await commit(redis, keys, "g", [{ ...paged, mode: "r", pending: [] }])).toEqual(["d"]);
    expect(await redis.hget(keys.deep, "a")).toBe("1");

    // The deep lane folded two of the three, with the rescan asked for before: the lead stays owned, its count reset.
    const deep: Lead = { ...paged, mode: "f", pending: [], drained: 2, rescans: "1", fields: { s: "3" } };
    expect(await commit(redis, keys, "g", [deep])).toEqual(["o"]);
    expect(await redis.lrange(keys.deepEvents("a"), 0, -1)).toEqual([event("e3", "page_view", 3)]);
    expect(await redis.hget(keys.deep, "a")).toBe("0");
    // The last one folded, no rescan asked since: released.
    expect(await commit(redis, keys, "g", [{ ...deep, expected: "1", drained: 1, rescans: "0" }])).toEqual(["o"]);
    expect(await redis.exists(keys.deepEvents("a"))).toBe(0);
    expect(await redis.hexists(keys.deep, "a")).toBe(0);
  });
});

describe("commit-leads.lua, merges", () => {
  it("diverts a commit of a merged id to its deep-lane list, as for a lead the deep lane owns", async () => {
    const { redis, keys } = await fresh();
    await redis.set(keys.gen, "g");
    await redis.hset(keys.aliases, "anon", "ada");
    const pending = [event("e1", "page_view", 1)];
    const plain: Lead = { id: "anon", mode: "c", expected: "0", rank: -5, updated: 1, stage: "cold", pending };
    plain.fields = { s: "5" };
    expect(await commit(redis, keys, "g", [plain])).toEqual(["d"]);
    expect(await redis.exists(keys.lead("anon"))).toBe(0);
    expect(await redis.lrange(keys.deepEvents("anon"), 0, -1)).toEqual(pending);
    expect(await redis.hget(keys.deep, "anon")).toBe("0");
  });

  it("removes a merged lead from every index only when its root committed earlier in the same call", async () => {
    const { redis, keys } = await fresh();
    await redis.set(keys.gen, "g");
    await redis.set(keys.outbox.wants, "csx");
    const anon: Lead = { id: "anon", mode: "c", expected: "0", rank: -105, updated: 10, stage: "warm" };
    anon.fields = { s: "105", st: "warm", le: "9" };
    const ada: Lead = { id: "ada", mode: "c", expected: "0", rank: -20, updated: 10, stage: "cold" };
    ada.fields = { s: "20", st: "cold", le: "8" };
    expect(await commit(redis, keys, "g", [anon, ada])).toEqual(["o", "o"]);
    await redis.rpush(keys.deepEvents("anon"), event("e1", "page_view", 1), event("e2", "page_view", 2));
    await redis.hset(keys.deep, "anon", "0", "ada", "0");
    await redis.del(keys.outbox.stream);
    const away: Lead = { id: "anon", mode: "m", expected: "1", rank: 0, updated: 20, stage: "cold", drained: 1 };
    away.movement = "ada";
    // The root's commit lost its compare-and-set: the merged lead stays as it was.
    const lost: Lead = { ...ada, mode: "f", expected: "7", fields: { s: "125", st: "warm" }, stage: "warm" };
    expect(await commit(redis, keys, "g", [lost, away])).toEqual(["c", "c"]);
    expect(await redis.zscore(keys.byScore, "anon")).toBe("-105");
    // Both in one call: the root committed, then the merged lead removed.
    const root: Lead = { ...lost, expected: "1" };
    expect(await commit(redis, keys, "g", [root, away])).toEqual(["o", "o"]);
    expect(await redis.exists(keys.lead("anon"))).toBe(0);
    for (const key of [keys.byScore, keys.byUpdated, keys.byLastEvent]) {
      expect(await redis.zscore(key, "anon")).toBeNull();
    }
    for (const stage of STAGES) {
      expect(await redis.zscore(keys.byUpdatedIn(stage), "anon")).toBeNull();
      expect(await redis.zscore(keys.byLastEventIn(stage), "anon")).toBeNull();
    }
    expect(await redis.zscore(keys.byScore, "ada")).toBe("-20");
    // One event arrived after the pass read the list: it stays, and the merged lead with the deep lane.
    expect(await redis.lrange(keys.deepEvents("anon"), 0, -1)).toEqual([event("e2", "page_view", 2)]);
    expect(await redis.hget(keys.deep, "anon")).toBe("0");
    // The root's own messages (one stage change, one score change), then the merge's.
    const messages = await outbox(redis, keys);
    expect(messages.map((m) => [m.type, m.lead])).toEqual([
      ["lead.stage_changed", "ada"],
      ["lead.score_changed", "ada"],
    ]);
    await redis.set(keys.outbox.wants, "m");
    await redis.del(keys.outbox.stream, keys.deepEvents("anon"));
    await redis.hdel(keys.deep, "anon");
    await commit(redis, keys, "g", [anon, { ...ada, expected: "2", fields: { s: "150", st: "warm" } }]);
    const merged: Lead = { ...away, expected: "1", drained: 0 };
    const next: Lead = { ...ada, mode: "f", expected: "3", fields: { s: "180", st: "warm" }, stage: "warm" };
    expect(await commit(redis, keys, "g", [next, merged])).toEqual(["o", "o"]);
    expect((await outbox(redis, keys)).map((m) => [m.type, m.lead, m.from, m.prev, m.score])).toEqual([
      ["lead.merged", "ada", "anon", "150", "180"],
    ]);
  });
});

describe("commit-leads.lua, a merge's record", () => {
  it("is written to the root's logs by the call that removes the merged lead, and by no other", async () => {
    const { redis, keys } = await fresh();
    await redis.set(keys.gen, "g");
    await redis.set(keys.outbox.wants, "m");
    const anon: Lead = { id: "anon", mode: "c", expected: "0", rank: -40, updated: 10, stage: "cold" };
    anon.fields = { s: "40", st: "cold", n: "5" };
    const ada: Lead = { id: "ada", mode: "c", expected: "0", rank: -20, updated: 10, stage: "cold" };
    ada.fields = { s: "20", st: "cold", n: "1" };
    expect(await commit(redis, keys, "g", [anon, ada])).toEqual(["o", "o"]);
    // What the merged lead carries: an earlier merge into it (two events), a re-score of its own and one it carried.
    const earlier = JSON.stringify({ into: "anon", at: 5, events: 2, before: 0, after: 20 });
    await redis.hset(keys.mergedFrom("anon"), "anon0", "2");
    await redis.hset(keys.mergeLog("anon"), "anon0", earlier);
    await redis.hset(keys.rescoreLog("anon"), "3", "r3", "2:anon0", "r2");
    await redis.hset(keys.searchTexts, "anon", "anon text", "ada", "ada text");
    const record = JSON.stringify({ into: "ada", at: 20, events: 5, before: 20, after: 60 });
    const away: Lead = { id: "anon", mode: "m", expected: "1", rank: 0, updated: 20, stage: "cold" };
    away.movement = "ada";
    away.merge = { record, brought: 5 };
    const root: Lead = { ...ada, mode: "f", expected: "7", fields: { s: "60", st: "cold", n: "6" } };
    // The root's commit lost its compare-and-set: nothing of the merge is written.
    expect(await commit(redis, keys, "g", [root, away])).toEqual(["c", "c"]);
    expect(await redis.exists(keys.mergedFrom("ada"), keys.mergeLog("ada"), keys.rescoreLog("ada"))).toBe(0);
    expect(await redis.hget(keys.mergedFrom("anon"), "anon0")).toBe("2");

    expect(await commit(redis, keys, "g", [{ ...root, expected: "1" }, away])).toEqual(["o", "o"]);
    expect(await redis.hgetall(keys.mergedFrom("ada"))).toEqual({ anon0: "2", anon: "3" });
    expect(await redis.hgetall(keys.mergeLog("ada"))).toEqual({ anon0: earlier, anon: record });
    expect(await redis.hgetall(keys.rescoreLog("ada"))).toEqual({ "3:anon": "r3", "2:anon0": "r2" });
    expect(await redis.hgetall(keys.searchTexts)).toEqual({ ada: "ada text" });
    expect(await redis.exists(keys.mergedFrom("anon"), keys.mergeLog("anon"), keys.rescoreLog("anon"))).toBe(0);
    const merged = (await outbox(redis, keys)).map((m) => [m.type, m.lead, m.from, m.prev, m.score]);
    expect(merged).toEqual([["lead.merged", "ada", "anon", "20", "60"]]);

    // Events that reached the merged id after: removed with the root's next commit, nothing announced or recorded.
    const again: Lead = { id: "anon", mode: "a", expected: "0", rank: 0, updated: 30, stage: "cold", movement: "ada" };
    const next: Lead = { ...root, expected: "2", fields: { s: "100", st: "warm", n: "7" }, stage: "warm" };
    expect(await commit(redis, keys, "g", [next, again])).toEqual(["o", "o"]);
    expect(await redis.hgetall(keys.mergedFrom("ada"))).toEqual({ anon0: "2", anon: "3" });
    expect(await redis.hgetall(keys.mergeLog("ada"))).toEqual({ anon0: earlier, anon: record });
    expect(await outbox(redis, keys)).toHaveLength(1);
  });
});

describe("record-merge-5.lua", () => {
  const recordMerge = script<string>("record-merge-5.lua");
  const run = (redis: Awaited<ReturnType<typeof fresh>>["redis"], keys: LiveKeys, from: string, into: string) =>
    recordMerge.run(
      redis,
      [keys.gen, keys.aliases, keys.aliasesOf(from), keys.aliasesOf(into), keys.deep],
      ["g", from, into],
    );

  it("maps an id to its root, hands both to the deep lane, and keeps the map one hop deep", async () => {
    const { redis, keys } = await fresh();
    await redis.set(keys.gen, "g");
    expect(await run(redis, keys, "anon", "ada")).toBe("ok");
    expect(await redis.hgetall(keys.deep)).toEqual({ anon: "0", ada: "0" });
    expect(await run(redis, keys, "anon", "ada")).toBe("same");
    expect(await run(redis, keys, "anon", "bob")).toBe("taken:ada");
    expect(await run(redis, keys, "ada", "anon")).toBe("loop");
    expect(await run(redis, keys, "ada", "ada")).toBe("loop");
    expect(await run(redis, keys, "x", "anon")).toBe("moved:ada");
    // The root merged in turn: every id that resolved to it now resolves to the new root, in one hop.
    expect(await run(redis, keys, "ada", "bob")).toBe("ok");
    expect(await redis.hgetall(keys.aliases)).toEqual({ anon: "bob", ada: "bob" });
    expect((await redis.smembers(keys.aliasesOf("bob"))).sort()).toEqual(["ada", "anon"]);
    expect(await redis.exists(keys.aliasesOf("ada"))).toBe(0);
  });

  it("writes nothing and answers 'stale' when the generation is not the one the worker read", async () => {
    const { redis, keys } = await fresh();
    await redis.set(keys.gen, "g2");
    expect(await run(redis, keys, "anon", "ada")).toBe("stale");
    expect(await redis.exists(keys.aliases, keys.deep)).toBe(0);
  });
});

describe("set-profile-9.lua", () => {
  function run(redis: Awaited<ReturnType<typeof fresh>>["redis"], keys: LiveKeys, name: string, at: number) {
    return setProfile.run(
      redis,
      [
        keys.lead("a"),
        keys.byScore,
        keys.byUpdated,
        keys.byUpdatedIn("cold"),
        keys.outbox.stream,
        keys.outbox.wants,
        keys.byLastEvent,
        keys.byLastEventIn("cold"),
        keys.searchTexts,
      ],
      [
        "a",
        name,
        "ada@example.com",
        "Acme",
        at,
        0,
        "cold",
        keys.byUpdatedIn("cold").slice(0, -"cold".length),
        `text of ${name}`,
      ],
    );
  }

  it("creates a lead of score 0 with its indexes and its lead.created message, once", async () => {
    const { redis, keys } = await fresh();
    await redis.set(keys.outbox.wants, "c");
    expect(await run(redis, keys, "Ada", 100)).toBe(0);
    expect(await redis.hgetall(keys.lead("a"))).toEqual({
      name: "Ada",
      email: "ada@example.com",
      company: "Acme",
      ua: "100",
      v: "0",
      s: "0",
      st: "cold",
      n: "0",
      ca: "100",
    });
    expect(await redis.zscore(keys.byScore, "a")).toBe("0");
    expect(await redis.zscore(keys.byUpdatedIn("cold"), "a")).toBe("100");
    expect(await redis.zscore(keys.byLastEvent, "a")).toBe("0");
    expect(await redis.zscore(keys.byLastEventIn("cold"), "a")).toBe("0");
    expect(await outbox(redis, keys)).toEqual([
      {
        type: "lead.created",
        lead: "a",
        from: "",
        to: "cold",
        score: "0",
        prev: "",
        event: "",
        etype: "",
        at: "100",
        rank: "1",
      },
    ]);
    // A second write finds the lead: its fold state and stage stay, only the profile and updated_at move.
    await redis.hset(keys.lead("a"), "s", "400", "st", "hot", "v", "7");
    expect(await run(redis, keys, "Ada L.", 200)).toBe(1);
    expect(await redis.hmget(keys.lead("a"), "name", "s", "st", "v", "ua")).toEqual([
      "Ada L.",
      "400",
      "hot",
      "7",
      "200",
    ]);
    expect(await redis.zscore(keys.byUpdatedIn("hot"), "a")).toBe("200");
    expect(await redis.zscore(keys.byUpdated, "a")).toBe("200");
    // A profile edit is no activity.
    await redis.zadd(keys.byLastEvent, 150, "a");
    expect(await run(redis, keys, "Ada M.", 300)).toBe(1);
    expect(await redis.zscore(keys.byLastEvent, "a")).toBe("150");
    expect(await redis.xlen(keys.outbox.stream)).toBe(1);
  });

  it("sets the lead's search text with every profile write", async () => {
    const { redis, keys } = await fresh();
    await run(redis, keys, "Ada", 100);
    expect(await redis.hgetall(keys.searchTexts)).toEqual({ a: "text of Ada" });
    await run(redis, keys, "Ada L.", 200);
    expect(await redis.hgetall(keys.searchTexts)).toEqual({ a: "text of Ada L." });
  });

  it("records no message when no subscription wants lead.created", async () => {
    const { redis, keys } = await fresh();
    await redis.set(keys.outbox.wants, "sx");
    expect(await run(redis, keys, "Ada", 100)).toBe(0);
    expect(await redis.exists(keys.outbox.stream)).toBe(0);
  });
});

describe("search-texts-3.lua and search-ids-2.lua", () => {
  /** The matches every step of a walk replied with, [id, rank key, sort value] each, by id. */
  async function walk(step: (cursor: string) => Promise<string[]>): Promise<string[][]> {
    const found: string[][] = [];
    let cursor = "0";
    do {
      const reply = await step(cursor);
      cursor = reply[0] as string;
      for (let i = 1; i < reply.length; i += 3) found.push(reply.slice(i, i + 3));
    } while (cursor !== "0");
    return found.sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1));
  }

  it("match every word within one field of the text, the company apart, and ids in lower case", async () => {
    const { redis, keys } = await fresh();
    // company (lower case) \0 id \0 name \0 email \0 company (folded)
    await redis.hset(keys.searchTexts, {
      a: "müller ag\0a\0ana silva\0ana@x.pt\0muller ag",
      b: "rio sa\0b\0ana souza\0souza@x.br\0rio sa",
      ghost: "x\0ghost\0\0\0x",
    });
    await redis.zadd(keys.byScore, -5, "a", -3, "b", -1, "Visitor-Ana", -2, "plain-9");
    await redis.zadd(keys.byUpdated, 50, "a", 30, "b", 10, "Visitor-Ana");
    const texts = (company: string, ...words: string[]) =>
      walk((cursor) =>
        searchTexts.run(redis, [keys.searchTexts, keys.byScore, keys.byUpdated], [cursor, 1, company, ...words]),
      );
    expect(await texts("", "ana")).toEqual([
      ["a", "-5", "50"],
      ["b", "-3", "30"],
    ]);
    expect(await texts("", "silva", "ana")).toEqual([["a", "-5", "50"]]);
    // Across two fields is no match; the company part is compared unfolded, and not by q.
    expect(await texts("", "silvaana")).toEqual([]);
    expect(await texts("", "ag\0a")).toEqual([]);
    expect(await texts("müller", "ana")).toEqual([["a", "-5", "50"]]);
    expect(await texts("muller")).toEqual([]);
    expect(await texts("ag\0a")).toEqual([]);
    // A text whose lead has no live state is left out.
    expect(await texts("x")).toEqual([]);

    const ids = (...words: string[]) =>
      walk((cursor) => searchIds.run(redis, [keys.byScore, keys.byUpdated], [cursor, 1, ...words]));
    expect(await ids("ana")).toEqual([["Visitor-Ana", "-1", "10"]]);
    // Not in the sort's index: '', as an idle lead, which its stage's index places (idle.ts).
    expect(await ids("a", "9")).toEqual([["plain-9", "-2", ""]]);
    expect((await ids("a")).map(([id]) => id)).toEqual(["Visitor-Ana", "a", "plain-9"]);
  });
});

describe("page-after-1.lua", () => {
  it("continues strictly after a position, whether its member is still there, moved or gone", async () => {
    const { redis, keys } = await fresh();
    const key = keys.byScore;
    await redis.zadd(key, 1, "a", 2, "b", 2, "c", 2, "e", 3, "f");
    // The member still holds the value.
    expect(await pageAfter.run(redis, [key], ["2", "b", 0, 10])).toEqual(["c", "2", "e", "2", "f", "3"]);
    // Gone: the page starts after where (2, "d") would sort.
    expect(await pageAfter.run(redis, [key], ["2", "d", 0, 10])).toEqual(["e", "2", "f", "3"]);
    // Moved (now 3): still after (2, "c"), and "c" is listed again at its new place.
    await redis.zadd(key, 3, "c");
    expect(await pageAfter.run(redis, [key], ["2", "c", 0, 2])).toEqual(["e", "2", "c", "3"]);
    // Descending: before the position in ascending order.
    expect(await pageAfter.run(redis, [key], ["2", "e", 1, 10])).toEqual(["b", "2", "a", "1"]);
  });
});

describe("renew-generation-1.lua", () => {
  it("names the generation anew only while it is still the one the catch-up started from", async () => {
    const { redis, keys } = await fresh();
    const run = await redisRunId(redis);
    await redis.set(keys.gen, "run-a:layout3:label");
    expect(await renewGeneration.run(redis, [keys.gen], ["run-a:layout3:label", `${run}:layout3:label`, run])).toBe(1);
    expect(await redis.get(keys.gen)).toBe(`${run}:layout3:label`);
    // Changed meanwhile (a rebuild began): left as it is.
    await redis.set(keys.gen, "rebuilding:x");
    expect(await renewGeneration.run(redis, [keys.gen], [`${run}:layout3:label`, "run-c:layout3:label", run])).toBe(0);
    expect(await redis.get(keys.gen)).toBe("rebuilding:x");
    // Deleted with the live keys: not brought back.
    await redis.del(keys.gen);
    expect(await renewGeneration.run(redis, [keys.gen], [`${run}:layout3:label`, "run-c:layout3:label", run])).toBe(0);
    expect(await redis.exists(keys.gen)).toBe(0);
  });

  it("names nothing on a Redis process other than the run the catch-up's commits ran on", async () => {
    const { redis, keys } = await fresh();
    const run = await redisRunId(redis);
    await redis.set(keys.gen, "run-a:layout3:label");
    const other = "f".repeat(40);
    expect(await renewGeneration.run(redis, [keys.gen], ["run-a:layout3:label", `${other}:layout3:label`, other])).toBe(
      -1,
    );
    expect(await redis.get(keys.gen)).toBe("run-a:layout3:label");
    // A Cluster's run: its masters' run ids, joined by '.'.
    const cluster = `${other}.${run}`;
    expect(
      await renewGeneration.run(redis, [keys.gen], ["run-a:layout3:label", `${cluster}:layout3:label`, cluster]),
    ).toBe(1);
  });
});
