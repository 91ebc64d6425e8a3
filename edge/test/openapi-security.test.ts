// The OpenAPI document's security requirements are a promise to clients: every operation is called here without
// credentials and with each kind of credential, and the server's answer (refused or not) must be what the declared
// schemes say — no scheme offered that the route refuses, none accepted that is not offered.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEdge } from "../../test-support/edge.ts";

type Operation = { requestBody?: { content: Record<string, unknown> }; security?: Record<string, string[]>[] };
type Document = { paths: Record<string, Record<string, Operation>> };

const WRITE_KEY = "test-write-key";
const METRICS_TOKEN = "scrape-token-123";

interface Credential {
  name: string;
  /** The security schemes this credential satisfies. */
  schemes: string[];
  headers?: Record<string, string>;
  query?: string;
}

const CREDENTIALS: Credential[] = [
  { name: "no credentials", schemes: [] },
  { name: "write key as Bearer", schemes: ["writeKeyBearer"], headers: { authorization: `Bearer ${WRITE_KEY}` } },
  { name: "write key as X-Write-Key", schemes: ["writeKeyHeader"], headers: { "x-write-key": WRITE_KEY } },
  { name: "write key as ?key=", schemes: ["writeKeyQuery"], query: `key=${WRITE_KEY}` },
  { name: "read token", schemes: ["readBearer"], headers: { authorization: "Bearer test-read-token" } },
  // readBearer's description says the admin token reads too.
  {
    name: "admin token as Bearer",
    schemes: ["adminBearer", "readBearer"],
    headers: { authorization: "Bearer test-admin-token" },
  },
  { name: "admin token as X-Admin-Token", schemes: ["adminHeader"], headers: { "x-admin-token": "test-admin-token" } },
  { name: "metrics token", schemes: ["metricsBearer"], headers: { authorization: `Bearer ${METRICS_TOKEN}` } },
];

/** Whether the declared security lets `credential` through; an empty requirement means "open when no token is set". */
function declaredAccepts(operation: Operation, credential: Credential, openWhenUnset: boolean): boolean {
  const security = operation.security ?? [];
  if (security.length === 0) return true;
  return security.some((requirement) => {
    const schemes = Object.keys(requirement);
    if (schemes.length === 0) return openWhenUnset;
    return schemes.every((scheme) => credential.schemes.includes(scheme));
  });
}

for (const metricsToken of [undefined, METRICS_TOKEN]) {
  describe(`the declared security of every operation${metricsToken ? ", with a METRICS_TOKEN" : ""}`, () => {
    let edge: Awaited<ReturnType<typeof createTestEdge>>;
    let document: Document;
    beforeAll(async () => {
      edge = await createTestEdge(metricsToken ? { METRICS_TOKEN: metricsToken } : {});
      document = (await (await edge.app.request("/openapi.json")).json()) as Document;
    });
    afterAll(() => edge.close());

    // The pixel always answers its GIF, so a refused pixel shows only in this counter.
    const unauthorizedCount = async () => {
      const init = metricsToken ? { headers: { authorization: `Bearer ${metricsToken}` } } : {};
      const text = await (await edge.app.request("/metrics", init)).text();
      return Number(text.match(/^leadscore_events_rejected_total\{reason="unauthorized"\} (\d+)$/m)?.[1] ?? 0);
    };

    it("matches what the server enforces", async () => {
      const mismatches: string[] = [];
      let checked = 0;
      for (const [path, operations] of Object.entries(document.paths)) {
        for (const [method, operation] of Object.entries(operations)) {
          for (const credential of CREDENTIALS) {
            const url = path.replace(/\{\w+\}/g, "probe") + (credential.query ? `?${credential.query}` : "");
            const mediaType = Object.keys(operation.requestBody?.content ?? {})[0];
            const before = await unauthorizedCount();
            const response = await edge.app.request(url, {
              method: method.toUpperCase(),
              headers: { ...(mediaType ? { "content-type": mediaType } : {}), ...credential.headers },
              ...(mediaType ? { body: "{}" } : {}),
            });
            await response.arrayBuffer();
            const refused = response.status === 401 || response.status === 403 || (await unauthorizedCount()) > before;
            const declared = declaredAccepts(operation, credential, metricsToken === undefined);
            checked += 1;
            if (refused === declared) {
              mismatches.push(
                `${method.toUpperCase()} ${path} with ${credential.name}: declared ${declared ? "accepted" : "refused"}, answered ${response.status}`,
              );
            }
          }
        }
      }
      expect(checked).toBeGreaterThan(100);
      expect(mismatches).toEqual([]);
    });

    it("offers ?key= only on the pixel and the beacon", () => {
      const withQueryKey = Object.entries(document.paths).flatMap(([path, operations]) =>
        Object.entries(operations)
          .filter(([, operation]) => (operation.security ?? []).some((requirement) => "writeKeyQuery" in requirement))
          .map(([method]) => `${method.toUpperCase()} ${path}`),
      );
      expect(withQueryKey.sort()).toEqual(["GET /p.gif", "POST /beacon"]);
    });
  });
}
