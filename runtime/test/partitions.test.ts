import { indexKeys, liveKeys } from "@leadscore/live";
import { consumedPartitions, dedupeSlot, keySlot, leadPartition, partitionPrefixes } from "@leadscore/runtime";
import { describe, expect, it } from "vitest";

describe("lead partitions", () => {
  it("keep one partition's layout key for key: its prefix is REDIS_PREFIX", () => {
    expect(partitionPrefixes("{leadscore}", 1)).toEqual(["{leadscore}"]);
    const one = liveKeys(partitionPrefixes("leadscore", 1)[0] as string);
    expect([...indexKeys(one), one.gen, one.lead("ada"), one.outbox.stream]).toEqual([
      ...indexKeys(liveKeys("leadscore")),
      "leadscore:live:gen",
      "leadscore:live:lead:{ada}",
      "leadscore:webhooks:outbox",
    ]);
    expect(leadPartition("any-lead", 1)).toBe(0);
    expect(dedupeSlot(["{leadscore}"], "evt-1", 64)).toEqual(dedupeSlot("{leadscore}", "evt-1", 64));
  });

  it("hash a key's tag to the slot Redis Cluster gives it", () => {
    // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
    expect(keySlot("123456789")).toBe(0x31c3);
    expect(keySlot("foo")).toBe(12182);
    expect(keySlot("{user1000}.following")).toBe(keySlot("{user1000}.followers"));
    expect(keySlot("foo{}{bar}")).toBe(keySlot("foo{}{bar}")); // an empty first tag: the whole key
    expect(keySlot("{bar}x")).toBe(keySlot("bar"));
  });

  it("salt each partition's tag into its own equal share of the slots", () => {
    const prefixes = partitionPrefixes("{leadscore}", 6);
    expect(prefixes).toHaveLength(6);
    prefixes.forEach((prefix, p) => {
      expect(prefix).toMatch(new RegExp(`^\\{leadscore:p${p}\\.\\d+\\}$`));
      const slot = keySlot(`${prefix}:live:gen`);
      expect(slot).toBeGreaterThanOrEqual(Math.floor((p * 16384) / 6));
      expect(slot).toBeLessThan(Math.floor(((p + 1) * 16384) / 6));
    });
    // Stable: the same prefixes in every process, whatever it computed before.
    expect(partitionPrefixes("{leadscore}", 6)).toEqual([...prefixes]);
  });

  it("place a lead by a stable hash of its id, spread over the partitions", () => {
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 6000; i++) {
      const p = leadPartition(`lead-${i}`, 6);
      counts[p] = (counts[p] ?? 0) + 1;
    }
    for (const count of counts) expect(count).toBeGreaterThan(800);
    expect(leadPartition("ada", 6)).toBe(leadPartition("ada", 6));
  });

  it("place an event's de-duplication bucket in partition bucket mod P", () => {
    const prefixes = partitionPrefixes("{leadscore}", 3);
    const slot = dedupeSlot(prefixes, "evt-42", 64);
    const bucket = Number(slot.key.split(":dd:")[1]);
    expect(slot.partition).toBe(bucket % 3);
    expect(slot.key.startsWith(prefixes[bucket % 3] as string)).toBe(true);
    expect(slot.field).toBe(dedupeSlot("{leadscore}", "evt-42", 64).field);
  });

  it("consume every partition, or the ones named", () => {
    expect(consumedPartitions(4, [])).toEqual([0, 1, 2, 3]);
    expect(consumedPartitions(4, [3, 1, 9])).toEqual([1, 3]);
  });
});
