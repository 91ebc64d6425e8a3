// Webhooks: subscriptions, the delivery log and the steps of delivery, in Redis. Web APIs only (the edge imports
// it); the dispatcher process, which sends the requests, is `dispatcher.ts`.
export * from "./model.ts";
export * from "./store.ts";
export * from "./url.ts";
