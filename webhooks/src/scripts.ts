// The Lua scripts behind subscriptions and deliveries (`lua/*.lua`, their shared pieces in `lua/includes/`; each
// file's header gives its KEYS, ARGV and reply). Each is one atomic step, so a process killed at any point
// leaves either the whole step done or none of it: a message is fanned out and removed from the outbox together, a
// delivery is settled and the next message of its lead released together.
//
// One subscription's keys, under `<prefix>:webhooks:s:<id>`:
//   :d         hash, delivery id → JSON Delivery
//   :q         sorted set of pending deliveries, by member `<lead id> <delivery id, 15 digits>` (all scores 0): the
//              lexical order gives each lead's queue, oldest first, and its head in one ZRANGEBYLEX
//   :ready     sorted set, lead → when its head delivery is due (epoch ms); a lead with pending deliveries is here
//              or in :inflight, never both, so a lead has at most one request in flight per subscription
//   :inflight  sorted set, lead → when its claim expires (a dispatcher that died mid-request loses its claim then)
//   :all :pending :delivered :failed :dropped   the delivery log, by delivery id (the score), all and by status
//   :health    hash: failing_since (first failed attempt since the last success), last_success_at, dropped (messages
//              dropped in all), dropping / dropping_count (start and count of the current episode of a full backlog)
//   :notices   list of JSON notices (webhook.disabled, webhook.backlog_full, webhook.backlog_resumed), newest first
// Keys are built inside the scripts from the deployment's prefix, as the profile script does: on Redis Cluster the
// prefix is hash-tagged, so they share the slot of the keys passed.
import { LIVE_LUA_INCLUDES } from "@leadscore/live";
import { redisScript } from "@leadscore/runtime";

/** Pads a delivery id so lexical order is numeric order (`lua/includes/delivery-member.lua` spells it for Lua). */
export const ID_DIGITS = 15;

const script = <Reply>(file: string) =>
  redisScript<Reply>(new URL(`./lua/${file}`, import.meta.url), { roots: { live: LIVE_LUA_INCLUDES } });

export const SAVE_SUBSCRIPTION = script<number>("save-subscription-2.lua");
/** Replies `[taken, dropped]`, or 0 when the outbox is empty. */
export const FAN_OUT = script<[number, number] | 0>("fan-out-3.lua");
/** One lead partition's outbox entries fanned out past its mark: replies `[taken, dropped]`. */
export const FAN_OUT_PARTITION = script<[number, number]>("fan-out-partition-3.lua");
export const ENQUEUE = script<string>("enqueue-delivery-1.lua");
export const CLAIM = script<string[]>("claim-deliveries-1.lua");
export const SETTLE = script<number>("settle-delivery-2.lua");
export const RETRY = script<string | null>("retry-delivery-1.lua");
