import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";

type Edge = Awaited<ReturnType<typeof createTestEdge>>;
type Operation = {
  operationId: string;
  parameters: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, unknown>;
  security?: Record<string, string[]>[];
};
type Document = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, unknown>> };
};

describe("the OpenAPI document", () => {
  let edge: Edge;
  let document: Document;
  beforeAll(async () => {
    edge = await createTestEdge({ CORS_ORIGINS: "https://tools.example.com" });
    const response = await edge.app.request("/openapi.json");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    document = (await response.json()) as Document;
  });
  afterAll(() => edge.close());

  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(document as unknown as Parameters<Validator["validate"]>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe("3.1.0");
  });

  it("documents every API route the app serves", () => {
    const served = edge.app.routes
      .filter((route) => route.method !== "ALL" && route.path.startsWith("/api/") && !route.path.includes("*"))
      .map((route) => `${route.method.toLowerCase()} ${route.path.replace(/:(\w+)/g, "{$1}")}`);
    expect(served.length).toBeGreaterThan(8);
    for (const route of served) {
      const [method = "", path = ""] = route.split(" ");
      expect(document.paths[path]?.[method], route).toBeDefined();
    }
  });

  it("covers ingestion, reads, admin writes and operations", () => {
    const operations = Object.entries(document.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations).toEqual(
      expect.arrayContaining([
        "POST /api/events",
        "POST /api/batch",
        "GET /p.gif",
        "POST /beacon",
        "GET /api/events/event-types",
        "GET /api/leads",
        "POST /api/leads",
        "GET /api/leads/leaderboard",
        "GET /api/leads/{id}",
        "GET /api/leads/{id}/history",
        "GET /api/leads/{id}/series",
        "GET /api/rules",
        "POST /api/rules",
        "PUT /api/rules/{id}",
        "DELETE /api/rules/{id}",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /openapi.json",
      ]),
    );
  });

  it("describes the list parameters from the schema that validates them", () => {
    const list = document.paths["/api/leads"]?.get;
    expect(list?.parameters.map((p) => p.name)).toEqual([
      "min_score",
      "max_score",
      "stage",
      "company",
      "q",
      "sort",
      "limit",
      "cursor",
    ]);
    expect(list?.parameters.find((p) => p.name === "limit")?.schema).toMatchObject({
      type: "integer",
      minimum: 1,
      maximum: 200,
      default: 50,
    });
    expect(list?.parameters.find((p) => p.name === "sort")?.schema.enum).toEqual([
      "-score",
      "score",
      "-updated_at",
      "updated_at",
      "-last_event_at",
      "last_event_at",
    ]);
    expect(list?.responses["400"]).toBeDefined();
  });

  it("describes events with the contracts' event schema", () => {
    const schema = document.components.schemas.EventInput as {
      properties: Record<string, Record<string, unknown>>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(Object.keys(schema.properties).sort()).toEqual([
      "event_id",
      "event_type",
      "lead_id",
      "metadata",
      "timestamp",
    ]);
    expect(schema.required.sort()).toEqual(["event_type", "lead_id"]);
    expect(schema.properties.event_type?.pattern).toBe("^[a-z0-9_]{1,64}$");
    expect(schema.additionalProperties).toBe(false);
  });

  it("declares every score real where decay makes it real, and says it is shown rounded down", () => {
    const schemas = document.components.schemas;
    type Property = { type?: string; description?: string; items?: { properties: Record<string, Property> } };
    const propertyOf = (schema: string, ...path: string[]) => {
      let properties = (schemas[schema] as { properties: Record<string, Property> }).properties;
      for (const step of path.slice(0, -1))
        properties = ((properties[step] as Property).items as { properties: Record<string, Property> }).properties;
      return properties[path.at(-1) as string] as Property;
    };
    for (const [schema, ...path] of [
      ["Lead", "current_score"],
      ["RankedLead", "current_score"],
      ["HistoryEntry", "score"],
      ["HistoryEntry", "delta"],
      ["HistoryEntry", "rules", "given"],
      ["Movement", "score"],
      ["Breakdown", "score"],
      ["Breakdown", "rules", "points"],
    ] as string[][]) {
      const property = propertyOf(schema as string, ...path);
      expect(property.type, `${schema}.${path.join(".")}`).toBe("number");
      expect(property.description, `${schema}.${path.join(".")}`).toMatch(/rounded down to a whole point/);
    }
  });

  it("marks admin writes with the admin security schemes and their 401/403", () => {
    for (const [path, method] of [
      ["/api/leads", "post"],
      ["/api/rules", "post"],
      ["/api/rules/{id}", "put"],
      ["/api/rules/{id}", "delete"],
    ] as const) {
      const operation = document.paths[path]?.[method];
      expect(operation?.security).toEqual([{ adminBearer: [] }, { adminHeader: [] }]);
      expect(Object.keys(operation?.responses ?? {})).toEqual(expect.arrayContaining(["401", "403"]));
    }
    expect(document.paths["/api/leads"]?.get?.security).toEqual([{ readBearer: [] }]);
    const points = (document.components.schemas.RuleInput as { properties: Record<string, unknown> }).properties.points;
    expect(points).toMatchObject({ type: "integer", minimum: -1000, maximum: 1000 });
  });

  it("is served as a human-readable page at /docs", async () => {
    const response = await edge.app.request("/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await response.text();
    expect(html).toContain("GET /api/leads/{id}/history");
    expect(html).toContain('href="/openapi.json"');
  });

  it("can be fetched by a listed origin", async () => {
    const response = await edge.app.request("/openapi.json", { headers: { origin: "https://tools.example.com" } });
    expect(response.headers.get("access-control-allow-origin")).toBe("https://tools.example.com");
  });
});
