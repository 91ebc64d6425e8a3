import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";
import { bearerToken } from "../src/auth/bearer.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;

const ACCEPTED: [string, string][] = [
  ["Bearer T", "T"],
  ["bearer T", "T"],
  ["BEARER T", "T"],
  ["Bearer\tT", "T"],
  ["Bearer   T  ", "T"],
  ["Bearer T\t", "T"],
];
const REFUSED = ["Basic T", "Bearer", "Bearer ", "BearerT", "Bearer T U", "Bearer: T", "Digest T"];

describe("reading an Authorization: Bearer header", () => {
  it.each(ACCEPTED)("finds the token in %j", (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each(REFUSED)("finds no token in %j", (header) => {
    expect(bearerToken(header)).toBeUndefined();
  });

  it("finds no token without the header", () => {
    expect(bearerToken(undefined)).toBeUndefined();
  });
});

describe("when every kind of token arrives as a Bearer header", () => {
  let edge: Edge;
  beforeAll(async () => {
    edge = await createTestEdge({ METRICS_TOKEN: "test-metrics-token" });
  });
  afterAll(() => edge.close());

  const event = () => JSON.stringify({ lead_id: "bearer-lead", event_type: "page_view" });
  const callers: {
    name: string;
    token: string;
    send: (authorization: string) => Response | Promise<Response>;
    ok: number;
  }[] = [
    {
      name: "a write key",
      token: "test-write-key",
      ok: 202,
      send: (authorization) =>
        edge.app.request("/api/events", {
          method: "POST",
          headers: { authorization, "content-type": "application/json" },
          body: event(),
        }),
    },
    {
      name: "a read token",
      token: "test-read-token",
      ok: 200,
      send: (authorization) => edge.app.request("/api/rules", { headers: { authorization } }),
    },
    {
      name: "the admin token",
      token: "test-admin-token",
      ok: 200,
      send: (authorization) => edge.app.request("/api/webhooks", { headers: { authorization } }),
    },
    {
      name: "the metrics token",
      token: "test-metrics-token",
      ok: 200,
      send: (authorization) => edge.app.request("/metrics", { headers: { authorization } }),
    },
  ];

  for (const caller of callers) {
    it(`accepts ${caller.name} in every form the parser reads`, async () => {
      for (const [form] of ACCEPTED) {
        const response = await caller.send(form.replace("T", caller.token));
        expect(response.status, form).toBe(caller.ok);
      }
    });

    it(`answers 401 to ${caller.name} in any other form`, async () => {
      for (const form of REFUSED) {
        const response = await caller.send(form.replace("T", caller.token));
        expect(response.status, form).toBe(401);
      }
    });
  }
});
