import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";

type Schema = Record<string, unknown>;
type Operation = {
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, { schema: Schema }> }>;
  security?: Record<string, string[]>[];
};
type Document = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };

describe("the OpenAPI document's rules part", () => {
  let edge: Awaited<ReturnType<typeof createTestEdge>>;
  let document: Document;
  beforeAll(async () => {
    edge = await createTestEdge();
    document = (await (await edge.app.request("/openapi.json")).json()) as Document;
  });
  afterAll(() => edge.close());

  it("lists the rule-group routes and the rule tester, writes and tests behind the admin token", () => {
    const paths = document.paths;
    expect(Object.keys(paths["/api/rule-groups"] ?? {}).sort()).toEqual(["get", "post"]);
    expect(Object.keys(paths["/api/rule-groups/{id}"] ?? {}).sort()).toEqual(["delete", "get", "put"]);
    const test = paths["/api/rules/test"]?.post;
    expect(test?.requestBody?.content["application/json"]?.schema).toEqual({ $ref: "#/components/schemas/RuleTest" });
    for (const operation of [test, paths["/api/rule-groups"]?.post, paths["/api/rule-groups/{id}"]?.delete]) {
      expect(JSON.stringify(operation?.security)).toMatch(/admin/);
    }
  });

  it("describes a rule's where as a recursive condition tree, and null removing it in a change", () => {
    const { schemas } = document.components;
    const propertiesOf = (name: string) => (schemas[name]?.properties ?? {}) as Schema;
    expect(propertiesOf("RuleInput").where).toMatchObject({ $ref: "#/components/schemas/Condition" });
    expect(JSON.stringify(schemas.Condition)).toContain('"items":{"$ref":"#/components/schemas/Condition"}');
    expect(JSON.stringify(propertiesOf("RuleChange").where)).toContain('{"type":"null"}');
    expect(schemas.ConditionLeaf?.required).toEqual(["field", "op", "value"]);
  });

  it("documents X-Rules-Version on the rules list and on every write", () => {
    const { paths } = document;
    const headersOf = (path: string, method: string, status: string) =>
      Object.keys(paths[path]?.[method]?.responses[status]?.headers ?? {});
    expect(headersOf("/api/rules", "get", "200")).toContain("X-Rules-Version");
    expect(headersOf("/api/rules", "post", "201")).toContain("X-Rules-Version");
    expect(headersOf("/api/rules/{id}", "put", "200")).toContain("X-Rules-Version");
    expect(headersOf("/api/rules/{id}", "delete", "204")).toContain("X-Rules-Version");
    expect(headersOf("/api/rule-groups", "post", "201")).toContain("X-Rules-Version");
  });
});
