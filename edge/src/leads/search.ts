// The leads search: `company` and `q` on GET /api/leads and its CSV export, answered by the live state alone (see
// search-index.ts in live): Redis matches the leads' search texts and ids in short steps and replies with the
// matches' positions in the sort's index; the edge sorts and pages those, and reads the live state of one page.
// MongoDB is not read. Still an expensive read (its cost grows with the number of leads), with that read's budget.
import type { Stage } from "@leadscore/contracts";
import {
  createPartitionedReader,
  createPartitionedSearcher,
  type LeadSort,
  type ListPosition,
  type LiveLead,
  liveKeys,
} from "@leadscore/live";
import { partitionPrefixes } from "@leadscore/runtime";
import type { ReadBudget } from "../api/expensive-reads.ts";
import type { AppDeps } from "../deps.ts";

/** Longest `q` accepted: the search compares it with every lead's text, so its cost must stay bounded. */
export const MAX_SEARCH_LENGTH = 100;
/**
 * Most leads a `company`/`q` search considers from each source (the search texts of profiled leads, the ids of the
 * others): their positions are filtered and sorted in memory, so this bounds the cost of every page of a broad search.
 */
export const MAX_SEARCH_MATCHES = 10_000;
/** Leads of a page whose live state one Redis round trip reads. */
const LIVE_READ_SLICE = 250;

/** What a search page is asked for: the list's filters, order and page size. */
export interface SearchQuery {
  company?: string;
  q?: string;
  min_score?: number;
  max_score?: number;
  stage?: Stage;
  sort: LeadSort;
  limit: number;
  /** The instant (epoch ms) the filters and scores are taken at, with decay; default: now. */
  at?: number;
}

/** Whether a query is a search (`company`/`q`), which walks every lead rather than reading a range of an index. */
export const isSearch = (query: Pick<SearchQuery, "company" | "q">) =>
  query.company !== undefined || query.q !== undefined;

/** Ascending sorts of the indexes' own values: rank keys ascending are scores descending. */
const ascending = (sort: LeadSort) => sort === "-score" || sort === "updated_at" || sort === "last_event_at";

/** Orders leads as the sort's Redis index does: by value, equal values by id (both reversed for a descending read). */
function comparator(sort: LeadSort) {
  const up = ascending(sort);
  return (a: ListPosition, b: ListPosition) => {
    const byValue = up ? a.value - b.value : b.value - a.value;
    if (byValue !== 0) return byValue;
    const byId = a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    return up ? byId : -byId;
  };
}

/** Pages of a `company`/`q` search. */
export function createLeadSearch(deps: Pick<AppDeps, "redis" | "searchRedis" | "live" | "config" | "scoring" | "now">) {
  const now = deps.now ?? Date.now;
  const options = {
    redis: deps.searchRedis ?? deps.redis,
    cap: deps.config.SCORE_CAP,
    thresholds: deps.config.STAGE_THRESHOLDS,
    halfLife: deps.scoring?.halfLife ?? (() => null),
    now,
  };
  const { REDIS_PREFIX: prefix, LEAD_PARTITIONS: partitions } = deps.config;
  // Every lead partition's texts and indexes are walked, and the matches merged.
  const searcher = createPartitionedSearcher({
    ...options,
    keys: partitions <= 1 ? [deps.live.keys] : partitionPrefixes(prefix, partitions).map((each) => liveKeys(each)),
  });
  const live = deps.searchRedis ? createPartitionedReader({ ...options, redisPrefix: prefix, partitions }) : deps.live;

  /** A page of a search: the matches' positions from Redis, sorted and paged in memory, then the page's live state. */
  async function searchPage(query: SearchQuery, after: ListPosition | null, budget: ReadBudget) {
    // One instant for the filters and the page's scores, as a list without a search has.
    const at = query.at ?? now();
    const search = {
      at,
      company: query.company,
      q: query.q,
      minScore: query.min_score,
      maxScore: query.max_score,
      stage: query.stage,
      sort: query.sort,
    };
    // Partitions are walked one after another, each considering up to MAX_SEARCH_MATCHES per source; the walk stops
    // once that many match.
    const matching = await searcher.matches(search, MAX_SEARCH_MATCHES, budget.pace);
    budget.check();
    const compare = comparator(query.sort);
    matching.sort(compare);
    const rest = after === null ? matching : matching.filter((position) => compare(position, after) > 0);
    const page = rest.slice(0, query.limit);
    // In slices (an export's page holds every match), so that decoding leads never holds the event loop for long.
    const leads: LiveLead[] = [];
    for (let from = 0; from < page.length; from += LIVE_READ_SLICE) {
      await budget.pace();
      leads.push(
        ...(await live.leads(
          page.slice(from, from + LIVE_READ_SLICE).map((position) => position.id),
          at,
        )),
      );
    }
    const last = page.at(-1);
    return { leads, total: matching.length, next: rest.length > query.limit && last ? last : null };
  }

  return { page: searchPage };
}
