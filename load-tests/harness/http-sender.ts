// Sends planned requests over a keep-alive connection pool (undici), timing each from just before the request is
// written to the end of its body.
import { Pool } from "undici";
import type { PlannedRequest } from "../src/requests.ts";

export interface SendResult {
  /** 0 when no response arrived. */
  status: number;
  body: string | null;
  durationMs: number;
  /** performance.now() when the response was complete. */
  completedAt: number;
  error?: string;
}

export interface HttpSender {
  send(request: PlannedRequest): Promise<SendResult>;
  close(): Promise<void>;
}

export function createHttpSender(baseUrl: string, connections: number, timeoutMs = 10_000): HttpSender {
  const url = new URL(baseUrl);
  const prefix = url.pathname.replace(/\/+$/, "");
  const pool = new Pool(url.origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connectTimeout: timeoutMs,
  });
  return {
    async send(request) {
      const start = performance.now();
      try {
        const response = await pool.request({
          method: request.method,
          path: `${prefix}${request.path}`,
          headers: request.headers,
          body: request.body ?? undefined,
        });
        const body = await response.body.text();
        const completedAt = performance.now();
        return { status: response.statusCode, body, durationMs: completedAt - start, completedAt };
      } catch (error) {
        const completedAt = performance.now();
        return { status: 0, body: null, durationMs: completedAt - start, completedAt, error: (error as Error).message };
      }
    },
    close: () => pool.close(),
  };
}
