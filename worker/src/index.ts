// The worker's front door: what other packages, benchmarks and suites may use. The process entry is `main.ts`.
export { createDecayTicker, type DecayTicker, type DecayTickerOptions } from "./decay-ticker.ts";
export { createDeepLane, type DeepLane, type DeepLaneOptions } from "./deep-lane.ts";
export { type LeadEventStreamOptions, type LeadEvents, streamLeadEvents } from "./lead-event-stream.ts";
export { createMergeRecorder } from "./merge.ts";
export { WORKER_NODE_FLAGS } from "./node-flags.ts";
export { contentPageId } from "./page-id.ts";
export { planLead } from "./plan.ts";
export { type PreviewOptions, runPreview } from "./preview.ts";
export {
  createScorePublisher,
  encodeScoreUpdates,
  type LeaderboardEmit,
  leaderboardKeys,
  type RedisScorePublisher,
  type ScorePublisherOptions,
} from "./publisher.ts";
export { rebuildLiveState, withRebuildLock, writeRebuiltLeads } from "./rebuild.ts";
export { rebuildEveryPartition } from "./rebuild-partitions.ts";
export { liveFields } from "./scorer.ts";
export { createWorker, type Worker, type WorkerOptions } from "./worker.ts";
