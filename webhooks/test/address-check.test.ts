// The dispatcher's connect-time check: every address a target resolves to goes through the same rule as the edge's
// URL check (`isNonPublicAddress` in contracts), so a name cannot lead where a literal address may not.
import type { LookupAddress } from "node:dns";
import { describe, expect, it } from "vitest";
import { publicLookup } from "../src/dispatcher.ts";

function lookup(host: string): Promise<{ error: (Error & { code?: string }) | null; addresses: LookupAddress[] }> {
  return new Promise((resolve) => {
    publicLookup(host, { all: true }, (error, addresses) =>
      resolve({ error, addresses: (addresses as unknown as LookupAddress[]) ?? [] }),
    );
  });
}

describe("when the dispatcher resolves a target before connecting", () => {
  it.each([
    ["localhost", "a name for loopback"],
    ["127.0.0.1", "loopback"],
    ["169.254.169.254", "cloud metadata"],
    ["::7f00:1", "IPv4-compatible loopback"],
    ["::ffff:10.0.0.1", "IPv4-mapped private"],
    ["64:ff9b::a9fe:a9fe", "NAT64 of the metadata address"],
    ["64:ff9b:1::1", "NAT64 for local use"],
    ["fec0::1", "site-local"],
    ["fd00::1", "unique local"],
  ])("refuses %s (%s)", async (host) => {
    const { error } = await lookup(host);
    expect(error?.code).toBe("EACCES");
    expect(error?.message).toMatch(/resolves to a non-public address/);
  });

  it.each([
    ["8.8.8.8", 4],
    ["64:ff9b::808:808", 6],
    ["2606:4700:4700::1111", 6],
  ])("lets the public address %s through", async (host, family) => {
    const { error, addresses } = await lookup(host);
    expect(error).toBeNull();
    expect(addresses).toEqual([{ address: host, family }]);
  });
});
