import { createWebhookStore } from "@leadscore/webhooks";
import { Hono } from "hono";
import { apiCors } from "../../api/cors.ts";
import { requireAdmin } from "../../auth/admin.ts";
import type { AppDeps } from "../../deps.ts";
import { createWebhookDoc, createWebhookRoute } from "./create.ts";
import { deleteWebhookDoc, deleteWebhookRoute } from "./delete.ts";
import { listDeliveriesDoc, listDeliveriesRoute } from "./deliveries.ts";
import { getWebhookDoc, getWebhookRoute } from "./get.ts";
import { listWebhooksDoc, listWebhooksRoute } from "./list.ts";
import { retryDeliveryDoc, retryDeliveryRoute } from "./retry.ts";
import { rotateSecretDoc, rotateSecretRoute } from "./rotate-secret.ts";
import { testEventDoc, testEventRoute } from "./test-event.ts";
import { updateWebhookDoc, updateWebhookRoute } from "./update.ts";

export const webhookDocs = [
  listWebhooksDoc,
  createWebhookDoc,
  getWebhookDoc,
  updateWebhookDoc,
  deleteWebhookDoc,
  rotateSecretDoc,
  listDeliveriesDoc,
  retryDeliveryDoc,
  testEventDoc,
];

/** `/api/webhooks`: every route, reads included, needs the admin token (a subscription's URL is configuration). */
export function webhookRoutes(deps: AppDeps) {
  const store = createWebhookStore({
    redis: deps.redis,
    redisPrefix: deps.config.REDIS_PREFIX,
    partitions: deps.config.LEAD_PARTITIONS,
    now: deps.now,
  });
  return new Hono()
    .use("*", apiCors(deps.config))
    .use("*", requireAdmin(deps.config.ADMIN_TOKEN))
    .route("/", listWebhooksRoute(store))
    .route("/", createWebhookRoute(deps, store))
    .route("/", getWebhookRoute(store))
    .route("/", updateWebhookRoute(deps, store))
    .route("/", deleteWebhookRoute(store))
    .route("/", rotateSecretRoute(store))
    .route("/", listDeliveriesRoute(store))
    .route("/", retryDeliveryRoute(store))
    .route("/", testEventRoute(store));
}
