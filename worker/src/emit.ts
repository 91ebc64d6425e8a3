// The Socket.io messages of score changes, encoded exactly as `@socket.io/redis-emitter` publishes them, so the
// commit script can PUBLISH them in the same atomic step that commits the scores.
import { leadRoom, realtimeChannelKey, type ScoreUpdate, type ServerToClientEvents } from "@leadscore/contracts";
import { Emitter } from "@socket.io/redis-emitter";

/** `[channel, message]` pairs of each update's `score_update` to its lead's room, by lead id. */
export function createUpdateEncoder(redisPrefix: string) {
  let captured: [string, Buffer][] = [];
  // The emitter only calls `publish`; this sink keeps what it would send.
  const sink = {
    publish(channel: string, message: string | Buffer) {
      captured.push([channel, typeof message === "string" ? Buffer.from(message) : message]);
      return Promise.resolve(0);
    },
  };
  const emitter = new Emitter<ServerToClientEvents>(sink, { key: realtimeChannelKey(redisPrefix) });
  return (updates: ScoreUpdate[]): Map<string, [string, Buffer][]> => {
    const byLead = new Map<string, [string, Buffer][]>();
    for (const update of updates) {
      captured = [];
      emitter.to(leadRoom(update.lead_id)).emit("score_update", update);
      byLead.set(update.lead_id, captured);
    }
    captured = [];
    return byLead;
  };
}
