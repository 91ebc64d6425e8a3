import { readCurrentRescore, readRescore } from "@leadscore/runtime";
import { Hono } from "hono";
import { parseParams } from "../../api/query.ts";
import type { AppDeps } from "../../deps.ts";
import { ApiError } from "../../errors.ts";
import type { RouteDoc } from "../../openapi/route-doc.ts";
import { RescoreOutputSchema, RescoreParamsSchema, toRescore } from "./rescore.ts";

export const getRescoreDoc: RouteDoc = {
  method: "get",
  path: "/api/rule-sets/rescores/{id}",
  operationId: "getRuleSetRescore",
  summary: "A re-score's progress",
  description:
    "The re-score of every lead a retroactive publish started (`current`: the newest one): its state and progress " +
    "(leads and events done of those the live state held when it started, leads whose score and stage it changed). " +
    "Kept a week.",
  tag: "Rule sets",
  auth: "read",
  params: RescoreParamsSchema,
  responses: { 200: { description: "The re-score.", schema: RescoreOutputSchema } },
  errors: ["NOT_FOUND"],
};

export function getRescoreRoute(deps: AppDeps) {
  return new Hono().get("/rescores/:id", async (c) => {
    const { id } = parseParams(c, RescoreParamsSchema);
    const prefix = deps.config.REDIS_PREFIX;
    const job =
      id === "current" ? await readCurrentRescore(deps.redis, prefix) : await readRescore(deps.redis, prefix, id);
    if (job === null) throw new ApiError("NOT_FOUND", id === "current" ? "no re-score yet" : `no re-score ${id}`);
    return c.json(toRescore(job));
  });
}
