// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";
import { ApiRequestError, createApi, cursorOf, leadQueryString, nextLink } from "../src/lib/api.ts";
import { series } from "./fakes.ts";

function respond(body: unknown, init: ResponseInit = {}) {
  return async () =>
    new Response(typeof body === "string" ? body : JSON.stringify(body), {
      status: 200,
      ...init,
      headers: { "content-type": "application/json", ...(init.headers as Record<string, string>) },
    });
}

describe("the lead query string", () => {
  it("carries every filter that has a value, and leaves empty ones out", () => {
    expect(
      leadQueryString({
        min_score: 100,
        max_score: null,
        stage: "hot",
        company: " Acme ",
        q: "",
        sort: "-score",
        limit: 25,
      }),
    ).toBe("?min_score=100&stage=hot&company=Acme&sort=-score&limit=25");
  });

  it("keeps a zero bound, which is a real filter", () => {
    expect(leadQueryString({ min_score: 0 })).toBe("?min_score=0");
  });

  it("is empty without filters", () => {
    expect(leadQueryString({})).toBe("");
  });
});

describe("the Link header", () => {
  it("yields the cursor of the next page", () => {
    const header = '</api/leads?limit=25&cursor=abc%3D%3D>; rel="next", </api/leads?limit=25>; rel="first"';
    expect(cursorOf(nextLink(header))).toBe("abc==");
  });

  it("yields nothing when there is no next page", () => {
    expect(nextLink('</api/leads>; rel="first"')).toBeNull();
    expect(nextLink(null)).toBeNull();
  });
});

describe("when the API answers", () => {
  it("returns a page with its total and next cursor", async () => {
    const api = createApi({
      fetch: respond([{ _id: "a" }], {
        headers: { "x-total-count": "42", link: '<http://h/api/leads?cursor=n1>; rel="next"' },
      }),
    });
    expect(await api.listLeads({ limit: 1 })).toEqual({ items: [{ _id: "a" }], total: 42, next: "n1" });
  });

  it("reads a lead's score series at the chart's number of buckets", async () => {
    const paths: string[] = [];
    const body = series([{ timestamp: "2025-01-01T10:00:00.000Z", score: 5 }]);
    const api = createApi({
      fetch: async (input) => {
        paths.push(String(input));
        return new Response(JSON.stringify(body), { status: 200 });
      },
    });
    expect(await api.leadSeries("lead/1", 600)).toEqual(body);
    expect(paths).toEqual(["/api/leads/lead%2F1/series?buckets=600"]);
  });

  it("sends the write key as a bearer token with a JSON body", async () => {
    let seen: Request | null = null;
    const api = createApi({
      fetch: async (input, init) => {
        seen = new Request(`http://h${input}`, init);
        return new Response(JSON.stringify({ success: true, event_id: "e1", duplicate: false }), { status: 202 });
      },
    });
    await api.submitEvent({ lead_id: "l1", event_type: "purchase" }, "k1");
    const request = seen as unknown as Request;
    expect(request.method).toBe("POST");
    expect(request.headers.get("authorization")).toBe("Bearer k1");
    expect(await request.json()).toEqual({ lead_id: "l1", event_type: "purchase" });
  });

  it("reads the half-life, and sets it with the admin token, answering with the re-key", async () => {
    const seen: Request[] = [];
    const api = createApi({
      readToken: () => "r1",
      fetch: async (input, init) => {
        seen.push(new Request(`http://h${input}`, init));
        const body = init?.method === "PUT" ? { half_life_seconds: 86_400, rekeyed_leads: 3, rekey_ms: 12 } : {};
        const read = { half_life_seconds: null, stage_thresholds: [100, 300, 600] };
        return new Response(JSON.stringify({ ...read, ...body }), { status: 200 });
      },
    });
    expect(await api.scoring()).toEqual({ half_life_seconds: null, stage_thresholds: [100, 300, 600] });
    expect(await api.setScoring({ half_life_seconds: 86_400 }, "a1")).toEqual({
      half_life_seconds: 86_400,
      stage_thresholds: [100, 300, 600],
      rekeyed_leads: 3,
      rekey_ms: 12,
    });
    expect(seen.map((request) => [request.method, request.url, request.headers.get("authorization")])).toEqual([
      ["GET", "http://h/api/scoring", "Bearer r1"],
      ["PUT", "http://h/api/scoring", "Bearer a1"],
    ]);
    expect(await seen[1]?.json()).toEqual({ half_life_seconds: 86_400 });
  });
});

describe("when the API refuses", () => {
  it("throws its code, message and field details", async () => {
    const api = createApi({
      fetch: respond(
        {
          error: {
            code: "VALIDATION_FAILED",
            message: "invalid event",
            details: [{ path: "lead_id", message: "bad" }],
          },
        },
        { status: 400 },
      ),
    });
    const failure = await api.submitEvent({ lead_id: "?", event_type: "x" }, "k").catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiRequestError);
    expect(failure).toMatchObject({
      status: 400,
      code: "VALIDATION_FAILED",
      details: [{ path: "lead_id", message: "bad" }],
    });
  });

  it("reports a server that cannot be reached as a network error", async () => {
    const api = createApi({
      fetch: async () => {
        throw new TypeError("Failed to fetch");
      },
    });
    await expect(api.getLead("x")).rejects.toMatchObject({ status: 0, code: "NETWORK" });
  });

  it("reports a non-JSON error by its status", async () => {
    const api = createApi({ fetch: respond("<html>bad gateway</html>", { status: 502, statusText: "Bad Gateway" }) });
    await expect(api.listRules()).rejects.toMatchObject({ status: 502, message: "502 Bad Gateway" });
  });
});

describe("when reads carry an access token", () => {
  function recording(status = 200) {
    const seen: Request[] = [];
    const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
      seen.push(new Request(`http://h${input}`, init));
      const body = status === 401 ? { error: { code: "UNAUTHORIZED", message: "no", details: [] } } : [];
      return new Response(JSON.stringify(body), { status });
    };
    return { seen, fetch };
  }

  it("sends it as a bearer token on every read, and never with a write's own credentials or to /metrics", async () => {
    const { seen, fetch } = recording();
    const api = createApi({ fetch, readToken: () => "read-1" });
    await api.listLeads({});
    await api.getLead("l1");
    await api.leadHistory("l1", {});
    await api.leadSeries("l1", 600);
    await api.leaderboard();
    await api.eventTypes();
    await api.listRules();
    expect(seen.map((request) => request.headers.get("authorization"))).toEqual(Array(7).fill("Bearer read-1"));

    seen.length = 0;
    await api.submitEvent({ lead_id: "l1", event_type: "purchase" }, "write-1");
    await api.createRule({ event_type: "x", label: "X", points: 1, active: true }, "admin-1");
    await api.metrics();
    expect(seen.map((request) => request.headers.get("authorization"))).toEqual([
      "Bearer write-1",
      "Bearer admin-1",
      null,
    ]);
  });

  it("ends the session when a read is refused with 401, but not for a refused write or /metrics", async () => {
    const onUnauthorized = vi.fn();
    const api = createApi({ fetch: recording(401).fetch, readToken: () => "read-1", onUnauthorized });
    await expect(api.submitEvent({ lead_id: "l1", event_type: "purchase" }, "wrong")).rejects.toThrow();
    await expect(api.metrics()).rejects.toThrow();
    await expect(api.checkToken("candidate")).rejects.toMatchObject({ status: 401 });
    expect(onUnauthorized).not.toHaveBeenCalled();
    await expect(api.listLeads({})).rejects.toMatchObject({ status: 401, code: "UNAUTHORIZED" });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });
});
