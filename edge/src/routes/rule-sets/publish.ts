import {
  type PublishOptions,
  publishRuleSet,
  type RuleSetBody,
  readRuleSetVersion,
  rulesChannel,
  startRescore,
} from "@leadscore/runtime";
import { z } from "zod";
import type { AppDeps } from "../../deps.ts";
import { ruleStoreOf, storeWrite } from "../rules/rule.ts";
import { toRescore } from "./rescore.ts";
import { toSummary } from "./rule-set.ts";

export const PublishBodySchema = z
  .strictObject(
    {
      mode: z
        .enum(["forward", "retroactive"], { error: 'must be "forward" or "retroactive"' })
        .describe(
          "`forward`: the set scores events from now on; history keeps the points it was scored with. " +
            "`retroactive`: every lead is re-scored with it too, online (progress: `GET /api/rule-sets/rescores/{id}`).",
        ),
      webhooks: z
        .enum(["suppress", "send"], { error: 'must be "suppress" or "send"' })
        .default("suppress")
        .describe("What a re-score does about the stage changes it causes; recorded with the version."),
    },
    { error: "must be a JSON object" },
  )
  .meta({ id: "RuleSetPublish" });

/**
 * Makes `body` the set in force as the next version, tells every worker to reload (as a rules write does; a lost
 * message is covered by the workers' periodic reload) and answers the version as `GET /api/rule-sets/:version` does.
 */
export async function publish(deps: AppDeps, body: RuleSetBody, options: PublishOptions) {
  const version = await storeWrite(publishRuleSet(ruleStoreOf(deps), body, options));
  const at = new Date((deps.now ?? Date.now)()).toISOString();
  const message = JSON.stringify({ change: "published", at, rules_version: version });
  await deps.redis.publish(rulesChannel(deps.config.REDIS_PREFIX), message).catch((error: Error) => {
    deps.log.warn("rule set publish not announced", { version, error: error.message });
  });
  const stored = await readRuleSetVersion(deps.db, version);
  if (stored === null) throw new Error(`version ${version} was stored but cannot be read`);
  if (options.mode === "forward") return { status: 200 as const, body: toSummary(stored.summary) };
  const job = await startRescore(
    deps.redis,
    deps.config.REDIS_PREFIX,
    { version, webhooks: options.webhooks },
    (deps.now ?? Date.now)(),
  );
  return { status: 202 as const, body: { ...toSummary(stored.summary), rescore: toRescore(job) } };
}
