// The only place the k6 scripts touch HTTP: sends a planned ingestion request and tags it by endpoint, so every
// built-in metric can be read per endpoint (http_req_duration{endpoint:pixel}).
import http from "k6/http";
import { expectedStatuses, type PlannedRequest } from "../../src/requests.ts";

export interface IngestResponse {
  /** 0 when no response arrived (timeout, connection refused). */
  status: number;
  body: string | null;
}

export interface IngestClient {
  send(request: PlannedRequest): IngestResponse;
}

export function createIngestClient(baseUrl: string, timeout = "10s"): IngestClient {
  const base = baseUrl.replace(/\/+$/, "");
  return {
    send(request) {
      const response = http.request(request.method, `${base}${request.path}`, request.body, {
        headers: request.headers,
        tags: { endpoint: request.endpoint, name: `${request.method} ${request.path.split("?")[0]}` },
        timeout,
        // A refused event answered 400 is the contract working, not a failed request.
        responseCallback: http.expectedStatuses(...expectedStatuses(request)),
      });
      return { status: response.status, body: typeof response.body === "string" ? response.body : null };
    },
  };
}
