// The realtime server's front door: what other packages, benchmarks and suites may use. The process entry is
// `main.ts`.
export {
  allowedOrigins,
  CONNECTION_CLOSED,
  createRealtimeServer,
  ORIGIN_NOT_ALLOWED,
  type RealtimeServer,
  type RealtimeServerOptions,
  SUBSCRIBES_WAITING,
  TOO_MANY_CONNECTIONS,
  TOO_MANY_SUBSCRIPTIONS,
} from "./server.ts";
