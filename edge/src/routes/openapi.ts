import { Hono } from "hono";
import { apiCors } from "../api/cors.ts";
import type { AppDeps } from "../deps.ts";
import { buildOpenApiDocument } from "../openapi/document.ts";
import { ingestionDocs } from "../openapi/ingestion.ts";
import type { RouteDoc } from "../openapi/route-doc.ts";
import { deadLettersDoc } from "./dead-letters/index.ts";
import { eventTypesDoc } from "./events/event-types.ts";
import { identifyDoc } from "./identify/index.ts";
import { leadDocs } from "./leads/index.ts";
import { movementsDoc } from "./movements/index.ts";
import { groupDocs } from "./rule-groups/index.ts";
import { ruleSetDocs } from "./rule-sets/index.ts";
import { ruleDocs } from "./rules/index.ts";
import { scoringDocs } from "./scoring/index.ts";
import { statsDoc } from "./stats/index.ts";
import { webhookDocs } from "./webhooks/index.ts";

const openApiDocs: RouteDoc[] = [
  {
    method: "get",
    path: "/openapi.json",
    operationId: "openapi",
    summary: "This document",
    tag: "Operations",
    auth: "none",
    responses: { 200: { description: "OpenAPI 3.1 document.", mediaType: "application/json" } },
  },
  {
    method: "get",
    path: "/docs",
    operationId: "docs",
    summary: "Human-readable API reference",
    tag: "Operations",
    auth: "none",
    responses: { 200: { description: "HTML page rendering this document.", mediaType: "text/html" } },
  },
];

/** Every documented route, in the order the document lists them. */
export const allRouteDocs: RouteDoc[] = [
  ...ingestionDocs.filter((doc) => doc.tag === "Events"),
  identifyDoc,
  eventTypesDoc,
  deadLettersDoc,
  ...leadDocs,
  statsDoc,
  movementsDoc,
  ...ruleDocs,
  ...groupDocs,
  ...ruleSetDocs,
  ...scoringDocs,
  ...webhookDocs,
  ...ingestionDocs.filter((doc) => doc.tag !== "Events"),
  ...openApiDocs,
];

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/** A dependency-free HTML rendering of the document: one section per operation. */
function renderHtml(document: ReturnType<typeof buildOpenApiDocument>): string {
  const sections = Object.entries(document.paths).flatMap(([path, operations]) =>
    Object.entries(operations).map(([method, raw]) => {
      const op = raw as {
        summary: string;
        description?: string;
        parameters: { name: string; in: string; required: boolean; description?: string }[];
        responses: Record<string, { description: string }>;
        security?: unknown[];
      };
      const params = op.parameters
        .map(
          (p) =>
            `<li><code>${escapeHtml(p.name)}</code> (${p.in}${p.required ? ", required" : ""}) ${escapeHtml(p.description ?? "")}</li>`,
        )
        .join("");
      const responses = Object.entries(op.responses)
        .map(([status, r]) => `<li><code>${status}</code> ${escapeHtml(r.description)}</li>`)
        .join("");
      return `<section><h2><code>${method.toUpperCase()} ${escapeHtml(path)}</code></h2><p>${escapeHtml(op.summary)}${op.security ? " <em>(authenticated)</em>" : ""}</p>${op.description ? `<p>${escapeHtml(op.description)}</p>` : ""}${params ? `<h3>Parameters</h3><ul>${params}</ul>` : ""}<h3>Responses</h3><ul>${responses}</ul></section>`;
    }),
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(document.info.title)}</title><meta name="viewport" content="width=device-width,initial-scale=1"><style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}section{border-top:1px solid #ddd}code{background:#f4f4f4;padding:0 .2em}</style></head><body><h1>${escapeHtml(document.info.title)}</h1><p>${escapeHtml(document.info.description)} Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>${sections.join("")}</body></html>`;
}

/**
 * The page is static and every value in it escaped; the headers say so to the browser too: nothing but its own
 * inline style may load, and no other site may frame it.
 */
const DOCS_HEADERS = {
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** `GET /openapi.json` and `GET /docs`, built once from the routes' own schemas. */
export function openApiRoutes(deps: AppDeps) {
  const document = buildOpenApiDocument(allRouteDocs, { title: "Leadscore API", version: "1.0.0" });
  const json = JSON.stringify(document);
  const html = renderHtml(document);
  return new Hono()
    .use("/openapi.json", apiCors(deps.config))
    .get("/openapi.json", (c) => c.body(json, 200, { "content-type": "application/json; charset=utf-8" }))
    .get("/docs", (c) => c.html(html, 200, DOCS_HEADERS));
}
