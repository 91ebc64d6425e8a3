export * from "./activity.ts";
export * from "./indexes.ts";
export * from "./lock.ts";
export * from "./log.ts";
export * from "./metrics.ts";
export * from "./queue.ts";
export * from "./queued-counts.ts";
export * from "./secrets.ts";
