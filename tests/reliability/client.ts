// The client side of the fault test: sends events with known ids at a steady rate and, as a well-behaved client
// must, retries every request that got no answer or a 503/429 until it gets a definite one. It records the fate of
// every id, so the audit can check the system against what the client was told.

export type Route = "events" | "batch" | "pixel" | "beacon";

export interface ClientEvent {
  event_id: string;
  lead_id: string;
  event_type: string;
  timestamp: number;
  /** Sent by every route but the pixel (whose query string carries none). */
  metadata?: Record<string, unknown>;
}

/** One unit of work: the same request is repeated until it is answered for good. */
export interface Send {
  route: Route;
  events: ClientEvent[];
  /** Ids the edge must refuse (400, or `rejected` in a batch): never scored. */
  invalid: ReadonlySet<string>;
  /** When to send it, in ms from the start of the run. */
  atMs: number;
}

export interface ClientFigures {
  /** Distinct event ids sent. */
  sent: number;
  /** Distinct valid ids that got a 2xx (accepted or duplicate). */
  acknowledged: number;
  /** Ids refused by contract (400 or `rejected`). */
  refused: number;
  requests: number;
  /** Answers 503 (the queue could not take the events), each followed by a retry. */
  unavailable: number;
  /** Requests with no answer (connection refused or reset, timeout), each followed by a retry. */
  connectionErrors: number;
  rateLimited: number;
  /** Ids answered "duplicate" at least once (resends, and retries of a request whose answer was lost). */
  answeredDuplicate: number;
  /** 5xx other than 503, and any other answer the contract does not allow: must stay 0. */
  unexpected: string[];
}

export interface LoadClient {
  /** Runs the sends on their schedule; resolves once every one has a final answer. */
  run(sends: Send[]): Promise<void>;
  figures(): ClientFigures;
  /** Valid ids that got a 2xx. */
  acknowledged(): ReadonlySet<string>;
  /** Ids that were sent but never got a 2xx. */
  neverAcknowledged(): Set<string>;
  /** Ids the edge accepted as new more than once (a second 202 for an id): allowed only after a lost answer. */
  acceptedTwice(): string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const REQUEST_TIMEOUT_MS = 5_000;
const MAX_OUTSTANDING = 256;

interface Answer {
  status: number;
  body: string;
}

export function createLoadClient(options: { baseUrl: () => string; writeKey: string }): LoadClient {
  const sentIds = new Set<string>();
  const acked = new Set<string>();
  const accepted = new Map<string, number>();
  const refused = new Set<string>();
  const duplicates = new Set<string>();
  const figures = { requests: 0, unavailable: 0, connectionErrors: 0, rateLimited: 0, unexpected: [] as string[] };

  const request = async (send: Send): Promise<Answer> => {
    const base = options.baseUrl();
    const headers: Record<string, string> = { authorization: `Bearer ${options.writeKey}` };
    let url: string;
    let init: RequestInit;
    const single = send.events[0] as ClientEvent;
    switch (send.route) {
      case "events":
        url = `${base}/api/events`;
        init = { method: "POST", headers: { ...headers, "content-type": "application/json" } };
        init.body = JSON.stringify(single);
        break;
      case "batch":
        url = `${base}/api/batch`;
        init = { method: "POST", headers: { ...headers, "content-type": "application/json" } };
        init.body = JSON.stringify({ events: send.events });
        break;
      case "beacon":
        url = `${base}/beacon?key=${encodeURIComponent(options.writeKey)}`;
        init = {
          method: "POST",
          headers: { "content-type": "text/plain" },
          body: JSON.stringify({ events: send.events }),
        };
        break;
      case "pixel": {
        const query = new URLSearchParams({
          key: options.writeKey,
          event_id: single.event_id,
          lead_id: single.lead_id,
          event_type: single.event_type,
          ts: String(single.timestamp),
        });
        url = `${base}/p.gif?${query}`;
        init = { method: "GET" };
        break;
      }
    }
    figures.requests += 1;
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      return { status: response.status, body: await response.text() };
    } catch {
      return { status: 0, body: "" };
    }
  };

  /** Applies a definite answer; returns false when the request must be retried. */
  const settle = (send: Send, answer: Answer): boolean => {
    const { status } = answer;
    if (status === 0) {
      figures.connectionErrors += 1;
      return false;
    }
    if (status === 503) {
      figures.unavailable += 1;
      return false;
    }
    if (status === 429) {
      figures.rateLimited += 1;
      return false;
    }
    // `acknowledged`: a 2xx that does not say whether the event was new (pixel, beacon).
    const mark = (id: string, outcome: "accepted" | "duplicate" | "acknowledged" | "rejected") => {
      if (outcome === "rejected") {
        refused.add(id);
        if (!send.invalid.has(id)) figures.unexpected.push(`${id} refused though valid: ${answer.body.slice(0, 200)}`);
        return;
      }
      if (send.invalid.has(id)) figures.unexpected.push(`${id} acknowledged though invalid (${status})`);
      acked.add(id);
      if (outcome === "duplicate") duplicates.add(id);
      else if (outcome === "accepted") accepted.set(id, (accepted.get(id) ?? 0) + 1);
    };
    const single = send.events[0] as ClientEvent;
    switch (send.route) {
      case "events":
        if (status === 202) mark(single.event_id, "accepted");
        else if (status === 200) mark(single.event_id, "duplicate");
        else if (status === 400) mark(single.event_id, "rejected");
        else figures.unexpected.push(`POST /api/events ${status}: ${answer.body.slice(0, 200)}`);
        return true;
      case "batch": {
        if (status !== 202) {
          figures.unexpected.push(`POST /api/batch ${status}: ${answer.body.slice(0, 200)}`);
          return true;
        }
        const body = JSON.parse(answer.body) as { results: { event_id: string; status: string }[] };
        body.results.forEach((result, index) => {
          const id = send.events[index]?.event_id ?? result.event_id;
          mark(id, result.status as "accepted" | "duplicate" | "rejected");
        });
        return true;
      }
      case "pixel":
      case "beacon":
        // These answer alike for accepted, duplicate and refused events; only valid events travel this way.
        if ((send.route === "pixel" && status === 200) || (send.route === "beacon" && status === 204)) {
          for (const event of send.events) mark(event.event_id, "acknowledged");
        } else {
          figures.unexpected.push(`${send.route} ${status}: ${answer.body.slice(0, 200)}`);
        }
        return true;
    }
  };

  const deliver = async (send: Send) => {
    for (const event of send.events) sentIds.add(event.event_id);
    for (let attempt = 0; ; attempt += 1) {
      if (settle(send, await request(send))) return;
      // Backs off so an outage does not turn into a retry storm; jitter spreads the retries out.
      await sleep(Math.min(1_000, 50 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random()));
    }
  };

  return {
    async run(sends) {
      const started = performance.now();
      const outstanding = new Set<Promise<void>>();
      for (const send of sends) {
        const wait = started + send.atMs - performance.now();
        if (wait > 0) await sleep(wait);
        while (outstanding.size >= MAX_OUTSTANDING) await Promise.race(outstanding);
        const task = deliver(send);
        outstanding.add(task);
        void task.finally(() => outstanding.delete(task));
      }
      await Promise.all(outstanding);
    },
    figures: () => ({
      sent: sentIds.size,
      acknowledged: acked.size,
      refused: refused.size,
      answeredDuplicate: duplicates.size,
      ...figures,
    }),
    acknowledged: () => acked,
    neverAcknowledged: () => new Set([...sentIds].filter((id) => !acked.has(id))),
    acceptedTwice: () => [...accepted].filter(([, times]) => times > 1).map(([id]) => id),
  };
}
