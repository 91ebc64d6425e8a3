// Every endpoint of the edge fed hostile bodies, query strings, path segments and headers through `app.request()`,
// on real Redis and MongoDB. Whatever comes in: no 5xx, errors in the documented shape, no prototype pollution, no
// runaway memory, and nothing malformed in the queue or the database afterwards.

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { withReadToken } from "../../test-support/index.ts";
import {
  headerValue,
  hostileBody,
  hostileJson,
  hostileKey,
  hostileString,
  nearlyValidEvent,
  nestedJson,
  nestedObjectJson,
} from "./arbitraries.ts";
import { queuedEvents, queuedProblem, responseProblem, storedForbiddenKeys } from "./check.ts";

const WRITE_KEY = "test-write-key";
const ADMIN_TOKEN = "test-admin-token";
/** Cases per property; a few thousand in all, which keeps the file well under a minute. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

// A full collection before each heap reading, so the bound is on what is kept, not on garbage not yet collected.
setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;
const heapUsed = () => {
  collect();
  return process.memoryUsage().heapUsed;
};

type Edge = Awaited<ReturnType<typeof createTestEdge>>;

const ingestRoute = fc.constantFrom("/api/events", "/api/batch", "/beacon", `/beacon?key=${WRITE_KEY}`);
const contentType = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "text/plain",
  "text/plain;charset=UTF-8",
  "APPLICATION/JSON",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
  "",
);
const auth = fc.oneof(
  fc.constant({ authorization: `Bearer ${WRITE_KEY}` }),
  fc.constant({ "x-write-key": WRITE_KEY }),
  fc.constant({ authorization: `Bearer ${ADMIN_TOKEN}` }),
  headerValue.map((value) => ({ authorization: `Bearer ${value}` })),
  headerValue.map((value) => ({ "x-write-key": value })),
  fc.constant({}),
);

/** A path segment: percent-encoded hostile text, or raw text that is not valid percent-encoding at all. */
const segment = fc.oneof(
  hostileString.map((value) => {
    try {
      return encodeURIComponent(value);
    } catch {
      // A lone surrogate has no UTF-8 form: send the bytes a careless encoder would, which are not UTF-8 either.
      return "%ED%A0%80";
    }
  }),
  fc.constantFrom("%E0%A4%A", "%", "%zz", "..%2F..%2Fetc", "%00", "a%2Fb", ".", "..", "leaderboard", "fuzz-lead-1"),
);

/** A query string: hostile names and values, encoded, or raw text with broken encoding and bracket operators. */
const queryString = fc.oneof(
  fc
    .array(
      fc.tuple(
        fc.oneof(
          hostileKey,
          fc.constantFrom(
            "lead_id",
            "event_type",
            "event_id",
            "ts",
            "key",
            "m_x",
            "min_score",
            "max_score",
            "stage",
            "company",
            "q",
            "sort",
            "limit",
            "cursor",
            "order",
            "since",
          ),
        ),
        hostileString,
      ),
      { maxLength: 6 },
    )
    .map((pairs) => new URLSearchParams(pairs).toString()),
  fc.constantFrom(
    "%",
    "q=%E0%A4%A",
    "company[$ne]=x",
    "min_score[$gt]=0",
    "limit=1&limit=2",
    "cursor=eyIkZ3QiOiIifQ",
    "cursor=eyJzIjoiLXNjb3JlIiwidiI6eyIkZ3QiOjB9LCJpZCI6ImEifQ",
    "q=(a%2B)%2B%24",
    "since=999999999999999",
    "since=2026-99-99T99:99Z",
    // A movements cursor whose `since` is past what a stream id holds.
    "cursor=eyJpZCI6IjEtMCIsInRvIjoiaG90Iiwic3RhZ2UiOm51bGwsInNpbmNlIjoxZTMwMH0",
    "__proto__[polluted]=1",
    "constructor[prototype][polluted]=1",
    `key=${WRITE_KEY}&lead_id=fuzz-lead-1&event_type=page_view&m_%24where=1`,
    `key=${WRITE_KEY}&lead_id=fuzz-lead-1&event_type=page_view&ts=99999999999999999999`,
  ),
);

const readPath = fc.oneof(
  queryString.map((query) => `/api/leads?${query}`),
  queryString.map((query) => `/api/leads/leaderboard?${query}`),
  fc.tuple(segment, queryString).map(([id, query]) => `/api/leads/${id}?${query}`),
  fc.tuple(segment, queryString).map(([id, query]) => `/api/leads/${id}/history?${query}`),
  queryString.map((query) => `/api/rules?${query}`),
  queryString.map((query) => `/api/movements?${query}`),
  queryString.map((query) => `/api/events/event-types?${query}`),
  queryString.map((query) => `/p.gif?${query}`),
  fc.constantFrom("/metrics", "/healthz", "/readyz", "/openapi.json", "/docs"),
  fc.tuple(segment, segment).map(([a, b]) => `/${a}/${b}`),
);

describe("when every endpoint is fed hostile input", () => {
  let edge: Edge;
  let heapBefore = 0;
  beforeAll(async () => {
    edge = await createTestEdge({ RATE_LIMIT_PER_SECOND: "10000000" });
    await edge.ready();
    const profile = (id: string) => ({ _id: id, name: `Name ${id}`, email: `${id}@example.com`, company: "Acme" });
    for (const id of ["fuzz-lead-1", "fuzz-lead-2", "fuzz-lead-3"]) {
      const created = await edge.app.request("/api/leads", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify(profile(id)),
      });
      expect(created.status).toBe(201);
    }
    heapBefore = heapUsed();
  });
  afterAll(() => edge.close());

  // What no hostile request may leave behind, checked after each test so the one that left it fails.
  afterEach(async () => {
    // Polluting no prototype.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
    // Queuing only events that pass the input rules.
    const queued = await queuedEvents(edge.queue);
    expect(queued.map((event) => [event.event_id, queuedProblem(event)]).filter(([, problem]) => problem)).toEqual([]);
    // Storing no document with operator, dotted or prototype keys.
    expect(await storedForbiddenKeys(edge.deps.db)).toEqual([]);
    // Keeping memory bounded: generous, what a leak of even a fraction of the requests' bodies (tens of MB) would
    // exceed.
    expect(heapUsed() - heapBefore).toBeLessThan(64 * 1024 * 1024);
  });

  const check = async (what: string, path: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    const response = await edge.app.request(path, init);
    expect(await responseProblem(`${method} ${what}`, response, method === "HEAD")).toBeNull();
  };

  it("answers ingestion bodies of any shape and encoding within the contract", async () => {
    await fc.assert(
      fc.asyncProperty(
        ingestRoute,
        hostileBody,
        contentType,
        auth,
        fc.constantFrom("identity", "identity", "gzip", "gzip-lie", "br"),
        async (path, body, type, headers, encoding) => {
          let payload: string | Uint8Array = body;
          const extra: Record<string, string> = {};
          if (encoding === "gzip") {
            payload = gzipSync(body);
            extra["content-encoding"] = "gzip";
          } else if (encoding !== "identity") {
            // Declared but not applied: the body is not what the header says.
            extra["content-encoding"] = encoding === "br" ? "br" : "gzip";
          }
          const all: Record<string, string> = { ...headers, ...extra };
          if (type) all["content-type"] = type;
          // Node's fetch types take Uint8Array bodies only over a plain ArrayBuffer; these are.
          const init: RequestInit = { method: "POST", headers: all, body: payload as BodyInit };
          await check(`${path} ${typeof body === "string" ? body.slice(0, 80) : `bytes ${body.length}`}`, path, init);
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it("queues nearly valid events only when they are valid", async () => {
    const before = (await queuedEvents(edge.queue)).length;
    await fc.assert(
      fc.asyncProperty(fc.array(nearlyValidEvent, { minLength: 1, maxLength: 5 }), async (events) => {
        const body = events.length === 1 ? JSON.stringify(events[0]) : JSON.stringify({ events });
        await check(`nearly valid ${body.slice(0, 80)}`, events.length === 1 ? "/api/events" : "/api/batch", {
          method: "POST",
          headers: { "content-type": "application/json", "x-write-key": WRITE_KEY },
          body,
        });
      }),
      { numRuns: RUNS },
    );
    // The valid ones reached the queue (checked after each test), or that check proves nothing here.
    expect((await queuedEvents(edge.queue)).length - before).toBeGreaterThan(RUNS / 10);
  });

  it("answers hostile query strings and path segments on every read route", async () => {
    await fc.assert(
      fc.asyncProperty(readPath, fc.constantFrom("GET", "HEAD", "OPTIONS"), async (path, method) => {
        const headers = { accept: "text/html", origin: "https://evil.example" };
        await check(path, path, withReadToken({ method, headers }));
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it("answers hostile admin writes, made with the right token, within the contract", async () => {
    const adminWrite = fc.oneof(
      fc.constant({ method: "POST", path: "/api/leads" }),
      fc.constant({ method: "POST", path: "/api/rules" }),
      segment.map((id) => ({ method: "PUT", path: `/api/rules/${id}` })),
      segment.map((id) => ({ method: "DELETE", path: `/api/rules/${id}` })),
      segment.map((id) => ({ method: "PATCH", path: `/api/leads/${id}` })),
    );
    const adminBody = fc.oneof(
      hostileJson.map((value) => JSON.stringify(value) ?? "null"),
      fc
        .record(
          {
            _id: fc.oneof(fc.stringMatching(/^[a-z0-9-]{1,12}$/), hostileJson),
            name: fc.oneof(fc.constant("Ann"), hostileJson),
            email: fc.oneof(fc.constant("ann@example.com"), hostileJson),
            company: fc.oneof(fc.constant("Acme"), hostileJson),
            event_type: fc.oneof(fc.stringMatching(/^[a-z_]{1,12}$/), hostileJson),
            points: fc.oneof(fc.integer({ min: -1000, max: 1000 }), hostileJson),
            label: fc.oneof(fc.constant("Label"), hostileJson),
            active: fc.oneof(fc.boolean(), hostileJson),
          },
          { requiredKeys: [] },
        )
        .map((record) => JSON.stringify(record)),
      fc.constantFrom(
        '{"__proto__":{"admin":true},"name":"a","email":"a@example.com","company":"c"}',
        '{"name":{"$gt":""},"email":"a@example.com","company":"c"}',
        '{"event_type":"x","points":1,"$set":{"points":1000}}',
        '{"points":1,"constructor":{"prototype":{"polluted":1}}}',
      ),
    );
    await fc.assert(
      fc.asyncProperty(adminWrite, adminBody, async ({ method, path }, body) => {
        await check(`${path} ${body.slice(0, 80)}`, path, {
          method,
          headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
          body,
        });
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it("answers header floods and very long header values within the contract", async () => {
    const manyHeaders = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`x-flood-${i}`, "v".repeat(64)]));
    const long = "k".repeat(100_000);
    const cases: [string, string, RequestInit][] = [
      ["flood on ingest", "/api/events", { method: "POST", headers: { ...manyHeaders, "x-write-key": WRITE_KEY } }],
      ["flood on a read", "/api/leads", withReadToken({ headers: manyHeaders })],
      ["100 KB read token", "/api/leads", { headers: { authorization: `Bearer ${long}` } }],
      ["100 KB write key", "/api/events", { method: "POST", headers: { "x-write-key": long }, body: "{}" }],
      ["100 KB bearer", "/api/batch", { method: "POST", headers: { authorization: `Bearer ${long}` }, body: "{}" }],
      ["100 KB admin token", "/api/rules", { method: "POST", headers: { "x-admin-token": long }, body: "{}" }],
      [
        "100 KB content type",
        "/api/events",
        { method: "POST", headers: { "x-write-key": WRITE_KEY, "content-type": long } },
      ],
      ["100 KB origin", "/api/leads", withReadToken({ headers: { origin: long } })],
      [
        "100 KB encoding",
        "/api/events",
        {
          method: "POST",
          headers: { "x-write-key": WRITE_KEY, "content-type": "application/json", "content-encoding": long },
          body: "{}",
        },
      ],
      [
        "huge content-length",
        "/api/events",
        {
          method: "POST",
          headers: {
            "x-write-key": WRITE_KEY,
            "content-type": "application/json",
            "content-length": "99999999999999999999",
          },
          body: "{}",
        },
      ],
      [
        "negative content-length",
        "/api/batch",
        {
          method: "POST",
          headers: { "x-write-key": WRITE_KEY, "content-type": "application/json", "content-length": "-1" },
          body: "{}",
        },
      ],
      ["100 KB query", `/api/leads?q=${"a".repeat(100_000)}`, withReadToken()],
      ["100 KB pixel query", `/p.gif?key=${WRITE_KEY}&lead_id=${"a".repeat(100_000)}&event_type=page_view`, {}],
      ["100 KB path", `/api/leads/${"a".repeat(100_000)}`, withReadToken()],
    ];
    for (const [what, path, init] of cases) await check(what, path, init);
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.constantFrom(
            "authorization",
            "x-write-key",
            "x-admin-token",
            "content-type",
            "content-encoding",
            "origin",
            "accept",
            "content-length",
          ),
          headerValue,
        ),
        async (headers) => {
          await check(`headers ${JSON.stringify(headers).slice(0, 100)}`, "/api/events", {
            method: "POST",
            headers,
            body: "{}",
          });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("answers huge, wide and deeply nested JSON within the contract", async () => {
    const headers = { "content-type": "application/json", "x-write-key": WRITE_KEY };
    const deepMetadata = (depth: number) =>
      `{"lead_id":"fuzz-lead-1","event_type":"page_view","metadata":${nestedObjectJson(depth)}}`;
    const wide = `{"events":[${Array.from({ length: 1000 }, (_, i) => `{"lead_id":"w${i}","event_type":"page_view","metadata":{${Array.from({ length: 40 }, (_, k) => `"k${k}":${k}`).join(",")}}}`).join(",")}]}`;
    const bodies: [string, string, string][] = [
      ["100,000-deep array", "/api/batch", `{"events":${nestedJson(100_000)}}`],
      ["100,000-deep object", "/api/events", nestedObjectJson(100_000)],
      ["deep metadata", "/api/events", deepMetadata(5_000)],
      ["metadata just over the depth limit", "/api/events", deepMetadata(18)],
      ["1,000 wide events", "/api/batch", wide],
      ["1,001 events", "/api/batch", JSON.stringify({ events: Array.from({ length: 1001 }, () => ({})) })],
      ["60 KB string", "/api/events", JSON.stringify({ lead_id: "a".repeat(60_000), event_type: "page_view" })],
      [
        "2 MB body",
        "/api/batch",
        JSON.stringify({ events: [{ lead_id: "x", event_type: "page_view", metadata: { x: "y".repeat(2_000_000) } }] }),
      ],
      ["10,000 keys", "/api/events", `{${Array.from({ length: 10_000 }, (_, i) => `"k${i}":1`).join(",")}}`],
      ["deep admin body", "/api/rules", nestedObjectJson(100_000)],
    ];
    for (const [what, path, body] of bodies) {
      const admin: Record<string, string> = path === "/api/rules" ? { authorization: `Bearer ${ADMIN_TOKEN}` } : {};
      await check(what, path, { method: "POST", headers: { ...headers, ...admin }, body });
    }
    // A gzip body that inflates to 10,000-deep nesting and a gzip bomb.
    await check("gzip of deep nesting", "/api/batch", {
      method: "POST",
      headers: { ...headers, "content-encoding": "gzip" },
      body: gzipSync(`{"events":${nestedJson(10_000)}}`),
    });
    await check("gzip bomb", "/api/batch", {
      method: "POST",
      headers: { ...headers, "content-encoding": "gzip" },
      body: gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20)),
    });
  });
});
