// A MongoDB client that reports the commands it sends, for tests that pin what reaches the store: which filters, and
// how many commands in flight at once.
import { type CommandStartedEvent, type Document, MongoClient } from "mongodb";
import { afterEach } from "vitest";

export interface SentCommand {
  /** `find`, `delete`, … */
  name: string;
  /** The collection it names. */
  collection: unknown;
  command: Document;
}

export interface WatchedClient {
  client: MongoClient;
  /** Every command sent that `watch` took, in the order sent. */
  sent: SentCommand[];
  /** The most of those in flight at once. */
  mostInFlight(): number;
  close(): Promise<void>;
}

export interface WatchedClientOptions {
  /**
   * Connections the client opens before it is handed over. The driver opens a pool's connections two at a time
   * (maxConnecting) as commands wait for one, which alone spreads out commands sent at once; with enough open, every
   * command sent at once is in flight at once.
   */
  open?: number;
}

/** A connected client of `url` that records the commands `watch` takes (a command's name and its collection). */
export async function watchedClient(
  url: string,
  watch: (name: string, collection: unknown) => boolean,
  options: WatchedClientOptions = {},
): Promise<WatchedClient> {
  const open = options.open ?? 0;
  const client = new MongoClient(url, { monitorCommands: true, ...(open > 0 && { maxConnecting: open }) });
  let ready = 0;
  client.on("connectionReady", () => {
    ready += 1;
  });
  await client.connect();
  // Pings sent at once: the pool opens a connection for each that finds none free (maxConnecting at once).
  for (let round = 0; ready < open; round++) {
    if (round === 10) throw new Error(`opened ${ready} connections of ${open}`);
    await Promise.all(Array.from({ length: open }, () => client.db("admin").command({ ping: 1 })));
  }
  const sent: SentCommand[] = [];
  const pending = new Set<number>();
  let most = 0;
  client.on("commandStarted", (event: CommandStartedEvent) => {
    const collection = event.command[event.commandName];
    if (!watch(event.commandName, collection)) return;
    sent.push({ name: event.commandName, collection, command: event.command });
    pending.add(event.requestId);
    most = Math.max(most, pending.size);
  });
  const ended = (event: { requestId: number }) => {
    pending.delete(event.requestId);
  };
  client.on("commandSucceeded", ended);
  client.on("commandFailed", ended);
  return { client, sent, mostInFlight: () => most, close: () => client.close() };
}

/**
 * `watchedClient` for a suite that opens clients inside its tests: each one opened is closed after the test that
 * opened it (the call registers the suite's `afterEach`).
 */
export function watchedClientsPerTest(): typeof watchedClient {
  const open: WatchedClient[] = [];
  afterEach(async () => {
    for (const watched of open.splice(0)) await watched.close();
  });
  return async (...args) => {
    const watched = await watchedClient(...args);
    open.push(watched);
    return watched;
  };
}
