// A MongoDB client that reports the commands it sends, for tests that pin what reaches the store: which filters, and
// how many commands in flight at once.
import { type CommandStartedEvent, type Document, MongoClient } from "mongodb";

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

/** A connected client of `url` that records the commands `watch` takes (a command's name and its collection). */
export async function watchedClient(
  url: string,
  watch: (name: string, collection: unknown) => boolean,
): Promise<WatchedClient> {
  const client = new MongoClient(url, { monitorCommands: true });
  await client.connect();
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
