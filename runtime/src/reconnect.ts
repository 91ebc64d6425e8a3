// How a process's Redis connections retry after losing Redis (its own clients and its Bull queue's). Left to their
// defaults, ioredis waits 50 ms more after each failed try, up to 2 s, and Bull e^n ms, up to 20 s: after a restart
// that kept Redis down ten seconds, the queue's connection came back up to 20 s after Redis did, and the edge answered
// 503 and the worker scored nothing meanwhile. A try every 200 ms at most costs a refused connection to a Redis that
// is down, and finds it back within 200 ms.
export const RECONNECT = { retryStrategy: (tries: number) => Math.min(tries * 50, 200) };
