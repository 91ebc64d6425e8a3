// The rule-set routes as the draft page calls them: every one with the admin token, through the API's admin call.

import type { Stage } from "@leadscore/contracts";
import type { Api, RuleGroupItem, RuleItem } from "../lib/api.ts";

export interface RuleSet {
  rules: RuleItem[];
  groups: RuleGroupItem[];
  half_life_seconds?: number;
}

export interface RuleSetDraft extends RuleSet {
  based_on: number;
  created_at: string;
  updated_at: string;
  updated_by: string;
}

export interface RuleSetVersion {
  version: number;
  published_by: string;
  published_at: string;
  live: boolean;
  source: "rules" | "draft" | "version";
  restores?: number;
  mode?: "forward" | "retroactive";
  webhooks?: "suppress" | "send";
}

export interface HistogramBucket {
  from: number;
  to: number;
  count: number;
}

export interface PreviewMover {
  lead_id: string;
  before: number;
  after: number;
  delta: number;
  stage_before: Stage;
  stage_after: Stage;
  rules: { rule_id: string; before: number; after: number }[];
}

export interface PreviewResult {
  leads: number;
  events: number;
  changed: number;
  stage_changes: number;
  webhooks: number;
  matrix: Record<Stage, Record<Stage, number>>;
  histogram: { before: HistogramBucket[]; after: HistogramBucket[] };
  movers: PreviewMover[];
}

export interface Preview {
  id: string;
  state: "queued" | "running" | "done" | "cancelled" | "failed";
  based_on: number;
  error?: string;
  progress: {
    phase?: string;
    events_total: number;
    events_read: number;
    events_done: number;
    leads_done: number;
    eta_seconds: number | null;
  };
  result?: PreviewResult;
}

export type RuleSetApi = Pick<Api, "admin">;

/** `forward`: new events only; `retroactive`: every lead re-scored too, online (its webhooks suppressed). */
export type PublishMode = "forward" | "retroactive";

async function one<T>(
  api: RuleSetApi,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  token: string,
  body?: unknown,
) {
  const { items } = await api.admin<T>(method, path, token, body);
  return items[0] as T;
}

/** A rule as a set carries it: the stored timestamps are the store's, not part of the set. */
function setRule({ created_at: _created, updated_at: _updated, ...rule }: RuleItem): RuleItem {
  return rule;
}

export const ruleSets = {
  versions: async (api: RuleSetApi, token: string) =>
    (await api.admin<RuleSetVersion>("GET", "/api/rule-sets", token)).items,
  draft: (api: RuleSetApi, token: string) => one<RuleSetDraft>(api, "GET", "/api/rule-sets/draft", token),
  startDraft: (api: RuleSetApi, token: string) => one<RuleSetDraft>(api, "POST", "/api/rule-sets/draft", token),
  saveDraft: (api: RuleSetApi, token: string, set: RuleSet) =>
    one<RuleSetDraft>(api, "PUT", "/api/rule-sets/draft", token, {
      rules: set.rules.map(setRule),
      groups: set.groups,
      ...(set.half_life_seconds === undefined ? {} : { half_life_seconds: set.half_life_seconds }),
    }),
  startPreview: (api: RuleSetApi, token: string) => one<Preview>(api, "POST", "/api/rule-sets/draft/preview", token),
  preview: (api: RuleSetApi, token: string, id: string) =>
    one<Preview>(api, "GET", `/api/rule-sets/previews/${encodeURIComponent(id)}`, token),
  cancelPreview: (api: RuleSetApi, token: string, id: string) =>
    one<Preview>(api, "DELETE", `/api/rule-sets/previews/${encodeURIComponent(id)}`, token),
  publishDraft: (api: RuleSetApi, token: string, mode: PublishMode = "forward") =>
    one<RuleSetVersion>(api, "POST", "/api/rule-sets/draft/publish", token, { mode }),
  publishVersion: (api: RuleSetApi, token: string, version: number, mode: PublishMode = "forward") =>
    one<RuleSetVersion>(api, "POST", `/api/rule-sets/${version}/publish`, token, { mode }),
};
