import { LeadIdSchema, STAGES } from "@leadscore/contracts";
import { LEAD_SORTS, type ListPosition, SEARCH_STEP } from "@leadscore/live";
import { Hono } from "hono";
import { z } from "zod";
import { CursorParamSchema, decodeCursor, encodeCursor, setPageHeaders } from "../../api/cursor.ts";
import type { ExpensiveReads, ReadBudget } from "../../api/expensive-reads.ts";
import { intParam, parseQuery } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { createLeadSearch, isSearch, MAX_SEARCH_LENGTH, MAX_SEARCH_MATCHES } from "../../leads/search.ts";
import { PAGE_HEADERS, type RouteDoc } from "../../openapi/route-doc.ts";
import { LeadSchema, toLead } from "./lead.ts";

export const MAX_PAGE_SIZE = 200;

/** The filters and order of a list, shared with the CSV export. */
const FILTERS = {
  min_score: intParam(0, 1_000_000).optional().describe("Only leads scoring at least this much."),
  max_score: intParam(0, 1_000_000).optional().describe("Only leads scoring at most this much."),
  stage: z.enum(STAGES, { error: `must be one of ${STAGES.join(", ")}` }).optional(),
  company: z
    .string()
    .min(1, { error: "must not be empty" })
    .max(200, { error: "must be at most 200 characters" })
    .optional()
    .describe("Part of the company name, any case (a search of the profiles' texts in Redis; see the cost above)."),
  q: z
    .string()
    .min(1, { error: "must not be empty" })
    .max(MAX_SEARCH_LENGTH, { error: `must be at most ${MAX_SEARCH_LENGTH} characters` })
    .regex(/^[^\p{Cc}]*$/u, { error: "must not contain control characters" })
    .optional()
    .describe(
      "Words, each part of the lead id, name, email or company, in any order, any case, accents or not (a " +
        "search of the leads' texts and ids in Redis; see the cost above).",
    ),
  sort: z
    .enum(LEAD_SORTS, { error: `must be one of ${LEAD_SORTS.join(", ")}` })
    .default("-score")
    .describe(
      "`-score`: highest score first, then the lead that reached its score first, then `_id`. " +
        "`-updated_at`: most recently updated first, then `_id` descending. " +
        "`-last_event_at`: latest activity first (the lead's newest event time; a profile edit does not move it; a " +
        "lead without events sorts as the oldest), then `_id` descending. " +
        "`score`, `updated_at` and `last_event_at` are the exact reverse of their `-` forms.",
    ),
};

const scoreRangeCheck = (query: { min_score?: number; max_score?: number }, ctx: z.RefinementCtx) => {
  if (query.min_score !== undefined && query.max_score !== undefined && query.min_score > query.max_score) {
    ctx.addIssue({ code: "custom", path: ["max_score"], message: "must not be less than min_score" });
  }
};

export const ListLeadsQuerySchema = z
  .strictObject({
    ...FILTERS,
    limit: intParam(1, MAX_PAGE_SIZE).default(50).describe("Page size."),
    cursor: CursorParamSchema.optional(),
  })
  .superRefine(scoreRangeCheck);
export type ListLeadsQuery = z.infer<typeof ListLeadsQuerySchema>;

/** The list's filters and order without paging: what the CSV export takes. */
export const LeadFiltersQuerySchema = z.strictObject(FILTERS).superRefine(scoreRangeCheck);
export type LeadFiltersQuery = z.infer<typeof LeadFiltersQuerySchema>;

/** The last lead of a page and its value in the sort's index (rank key, `updated_at` or `last_event_at` ms). */
const ListCursorSchema = z.strictObject({
  s: z.enum(LEAD_SORTS),
  id: LeadIdSchema,
  value: z.number().finite(),
});
type ListCursor = z.infer<typeof ListCursorSchema>;

export const listLeadsDoc: RouteDoc = {
  method: "get",
  path: "/api/leads",
  operationId: "listLeads",
  summary: "List leads",
  description:
    'Filtered, sorted leads with keyset paging: follow the `Link` header\'s `rel="next"` until it is absent. ' +
    "The next page starts strictly after the last lead's sort value and `_id`, whether or not that lead has moved " +
    "since: a lead that does not change while you page is listed exactly once; one that changes may be listed again " +
    "or missed, only because it moved. Unknown or repeated parameters are refused.\n\n" +
    "Without `company` or `q`, everything comes from the live state in Redis: a stage is a score range, so score " +
    "and stage filters are ranges of the score index and `sort=-score`/`score` pages and `X-Total-Count` (a ZCOUNT) " +
    "cost the same at any number of leads. `sort=-updated_at`/`updated_at` reads the `updated_at` index (one per " +
    "stage); combined with `min_score`/`max_score` it walks that index and skips the leads out of range. " +
    "`sort=-last_event_at`/`last_event_at` reads the `last_event_at` index, written by the same commit as the " +
    "others, and walks it the same way for any filter (a stage too).\n\n" +
    "`company` and `q` are searches, off the hot paths, whose cost grows with the number of leads. `company` " +
    "matches a literal part of the company in any case; `q` is words, each a literal part of the lead id, name, " +
    'email or company, in any order, any case, accents or not ("silva muller" finds Ana Silva of Müller AG). Redis ' +
    "answers both alone: each profiled lead's search text (its id, name, email and company folded, and its company " +
    `in lower case), kept in the live state with its profile, is matched by short read-only scripts, ${SEARCH_STEP} texts a ` +
    "step, which reply with the matches' positions; leads without a profile are matched by id through the score " +
    "index the same way. So Redis does work in proportion to the number of leads, in short steps. At " +
    `most ${MAX_SEARCH_MATCHES.toLocaleString("en")} matches per walk are considered: they are filtered by score ` +
    "and stage, sorted and paged in memory on every page, and only the page's leads are read. A search is an " +
    "expensive read: it " +
    "takes one of the edge's `EXPENSIVE_READ_CONCURRENCY` slots (503 with `Retry-After` when all are taken) and " +
    "stops with 503 past `EXPENSIVE_READ_TIMEOUT_MS`.",
  tag: "Leads",
  auth: "read",
  query: ListLeadsQuerySchema,
  responses: {
    200: { description: "One page of leads.", schema: z.array(LeadSchema), headers: PAGE_HEADERS },
  },
  errors: ["SERVICE_UNAVAILABLE"],
};

/** Pages of leads for a query: from the live state's indexes, or for a search from its candidates in memory. */
export function createLeadPager(deps: AppDeps) {
  const search = createLeadSearch(deps);
  return {
    /**
     * A page, read at instant `at` (default: now) — with decay the filters, the count and the scores are taken there;
     * a search needs the budget of the expensive read it is part of.
     */
    async page(
      query: LeadFiltersQuery & { limit: number; at?: number },
      after: ListPosition | null,
      budget?: ReadBudget,
    ) {
      if (isSearch(query)) {
        if (budget === undefined) throw new Error("a search runs as an expensive read, with its budget");
        return search.page(query, after, budget);
      }
      return deps.live.list({
        minScore: query.min_score,
        maxScore: query.max_score,
        stage: query.stage,
        sort: query.sort,
        limit: query.limit,
        after,
        at: query.at,
      });
    },
  };
}

export function listLeadsRoute(deps: AppDeps, reads: ExpensiveReads) {
  const pager = createLeadPager(deps);
  return new Hono().get("/", async (c) => {
    const query = parseQuery(c, ListLeadsQuerySchema);
    // A cursor only continues the order it was issued for.
    const cursor: ListCursor | null =
      query.cursor === undefined
        ? null
        : decodeCursor(
            query.cursor,
            ListCursorSchema.refine((position) => position.s === query.sort),
          );
    const after = cursor === null ? null : { id: cursor.id, value: cursor.value };
    const page = isSearch(query)
      ? await reads.run((budget) => pager.page(query, after, budget))
      : await pager.page(query, after);
    const next = page.next === null ? null : encodeCursor({ s: query.sort, ...page.next } satisfies ListCursor);
    setPageHeaders(c, next, page.total);
    return c.json(page.leads.map(toLead));
  });
}
