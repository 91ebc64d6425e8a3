import type { ListPosition } from "@leadscore/live";
import { Hono } from "hono";
import type { ExpensiveReads } from "../../api/expensive-reads.ts";
import { parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { isSearch, MAX_SEARCH_MATCHES } from "../../leads/search.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { type Lead, toLead } from "./lead.ts";
import { createLeadPager, LeadFiltersQuerySchema, MAX_PAGE_SIZE } from "./list.ts";

const COLUMNS = [
  "_id",
  "name",
  "email",
  "company",
  "current_score",
  "stage",
  "event_count",
  "last_event_at",
  "score_reached_at",
  "created_at",
  "updated_at",
] as const satisfies readonly (keyof Lead)[];

/** Columns people type into: a value a spreadsheet would run as a formula is written as text. */
const TYPED = new Set<string>(["name", "email", "company"]);

/** One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break. */
export function csvCell(value: string | number | null, typed = false): string {
  let text = value === null ? "" : String(value);
  if (typed && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvRow(lead: Lead): string {
  return `${COLUMNS.map((column) => csvCell(lead[column], TYPED.has(column))).join(",")}\r\n`;
}

export const exportLeadsDoc: RouteDoc = {
  method: "get",
  path: "/api/leads/export.csv",
  operationId: "exportLeads",
  summary: "Export leads as CSV",
  description:
    "Every lead the list's filters select, in the list's order, as CSV (RFC 4180, a header row, CRLF line ends), " +
    `streamed: the rows are read ${MAX_PAGE_SIZE} at a time from the same indexes as \`GET /api/leads\` and sent as ` +
    "they come, so memory stays flat whatever the number of leads. Each read continues strictly after the last row's " +
    "sort value and id, so a lead that does not change during the export is in it exactly once. With `company` or " +
    "`q` it is one search, of the " +
    "cost described under `GET /api/leads`. Names, emails and companies that a spreadsheet would run as a formula " +
    `(starting with = + - @) are prefixed with '. Columns: ${COLUMNS.join(", ")}.\n\n` +
    "Each page an export reads is an expensive read, in one of the edge's `EXPENSIVE_READ_CONCURRENCY` slots and " +
    "under `EXPENSIVE_READ_TIMEOUT_MS`. The first is read before the answer starts, so a refusal (every slot taken: " +
    "503 with `Retry-After`) or a search past its time is a 503; a later page waits for a slot, and one that fails " +
    "or runs past its time ends the response early (the client sees the transfer fail).",
  tag: "Leads",
  auth: "read",
  query: LeadFiltersQuerySchema,
  responses: {
    200: {
      description: "The leads, one row each after the header.",
      mediaType: "text/csv",
      headers: { "Content-Disposition": 'Always `attachment; filename="leads.csv"`.' },
    },
  },
  errors: ["SERVICE_UNAVAILABLE"],
};

const CSV_HEADERS = {
  "content-type": "text/csv; charset=utf-8",
  "content-disposition": 'attachment; filename="leads.csv"',
  "cache-control": "no-store",
};

export function exportLeadsRoute(deps: AppDeps, reads: ExpensiveReads) {
  const pager = createLeadPager(deps);
  return new Hono().get("/export.csv", async (c) => {
    const query = parseQuery(c, LeadFiltersQuerySchema);
    // HEAD is answered by this GET route with its body dropped: no need to read the first page for it.
    if (c.req.method === "HEAD") return new Response(null, { headers: CSV_HEADERS });
    // A search reads its candidates once: one page holding all of them.
    const limit = isSearch(query) ? 3 * MAX_SEARCH_MATCHES : MAX_PAGE_SIZE;
    // Every page at the request's instant: with decay, the export is the list as it stood when it was asked for.
    const at = (deps.now ?? Date.now)();
    const encoder = new TextEncoder();
    // Each page is an expensive read of its own, so a stream read slowly (or never) holds no slot between pages.
    // The first is read before answering: a refusal or a search past its time is a 503, not a cut-off CSV. A later
    // page waits longer for a slot rather than cut the answer short.
    const readPage = (after: ListPosition | null) =>
      reads.run(
        (budget) => pager.page({ ...query, limit, at }, after, budget),
        after === null ? {} : { waitMs: deps.config.EXPENSIVE_READ_TIMEOUT_MS },
      );
    let page = await readPage(null);
    let header = true;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (header) {
          header = false;
          controller.enqueue(encoder.encode(`${COLUMNS.join(",")}\r\n`));
          return;
        }
        if (page.leads.length > 0)
          controller.enqueue(encoder.encode(page.leads.map((lead) => csvRow(toLead(lead))).join("")));
        // Past the 200 a failed page can only end the response early, which the client sees as a failed transfer.
        if (page.next === null) controller.close();
        else page = await readPage(page.next);
      },
    });
    return new Response(body, { headers: CSV_HEADERS });
  });
}
