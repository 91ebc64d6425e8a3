import type { ListPosition } from "@leadscore/live";
import { Hono } from "hono";
import type { ExpensiveReads } from "../../api/expensive-reads.ts";
import { parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { type Lead, toLead } from "./lead.ts";
import { createLeadPager, isSearch, LeadFiltersQuerySchema, MAX_PAGE_SIZE, MAX_SEARCH_MATCHES } from "./list.ts";

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
    "they come, so memory stays flat whatever the number of leads. With `company` or `q` it is one search, of the " +
    "cost described under `GET /api/leads`. Names, emails and companies that a spreadsheet would run as a formula " +
    `(starting with = + - @) are prefixed with '. Columns: ${COLUMNS.join(", ")}.\n\n` +
    "An export is an expensive read: it holds one of the edge's `EXPENSIVE_READ_CONCURRENCY` slots while it streams " +
    "(503 with `Retry-After` when all are taken), and each page it reads stops past `EXPENSIVE_READ_TIMEOUT_MS` — " +
    "the first with a 503 (it is read before the answer starts), a later one by ending the response early.",
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

export function exportLeadsRoute(deps: AppDeps, reads: ExpensiveReads) {
  const pager = createLeadPager(deps);
  return new Hono().get("/export.csv", async (c) => {
    const query = parseQuery(c, LeadFiltersQuerySchema);
    // A search reads its candidates once: one page holding all of them.
    const limit = isSearch(query) ? 3 * MAX_SEARCH_MATCHES : MAX_PAGE_SIZE;
    const encoder = new TextEncoder();
    // One slot for the whole stream, each page under its own time limit. The first page is read before answering,
    // so a refusal or a search past its time is a 503, not a cut-off CSV.
    const slot = reads.acquire();
    const nextPage = (after: ListPosition | null) =>
      slot.read((budget) => pager.page({ ...query, limit }, after, budget));
    let page: Awaited<ReturnType<typeof nextPage>>;
    try {
      page = await nextPage(null);
    } catch (error) {
      slot.release();
      throw error;
    }
    let header = true;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          if (header) {
            header = false;
            controller.enqueue(encoder.encode(`${COLUMNS.join(",")}\r\n`));
            return;
          }
          if (page.leads.length > 0)
            controller.enqueue(encoder.encode(page.leads.map((lead) => csvRow(toLead(lead))).join("")));
          if (page.next === null) {
            slot.release();
            controller.close();
          } else page = await nextPage(page.next);
        } catch (error) {
          // Past the 200 a failed page can only cut the response short, which the client sees as an error.
          slot.release();
          throw error;
        }
      },
      cancel() {
        slot.release();
      },
    });
    return new Response(body, {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": 'attachment; filename="leads.csv"',
        "cache-control": "no-store",
      },
    });
  });
}
