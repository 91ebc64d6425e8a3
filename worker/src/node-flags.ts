// The Node flags a worker process runs with, for every launcher (npm start, docker compose, the load harness, the
// benchmarks). A batch allocates much that dies young (job payloads, BSON, the fold's entries, the commit's
// arguments): with V8's default young generation a quarter of the worker's CPU went to garbage collection. With 64 MB
// semi-spaces the worker spent 7–11% less CPU per event and drained 5–9% faster (bench:worker, 300,000 events over
// 30,000 leads, three runs each way; 32 MB gained less, 128 MB no more).
export const WORKER_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=64"];

// The Node flags a full rebuild's process runs with (the worker's own rebuild process and `npm run rebuild`). Its live
// memory is bounded (chunks of at most 500 leads or 20,000 events, one lead's events in pieces), but with V8's default
// heap limit (a share of the machine's memory) the collector let garbage pile up: peak RSS 501–514 MB at 1M events
// against 372 MB at 300,000. A heap limit makes the collector keep the process near what it holds.
export const REBUILD_NODE_FLAGS: readonly string[] = ["--max-old-space-size=384"];
