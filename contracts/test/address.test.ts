import { describe, expect, it } from "vitest";
import { isIpAddress, isNonPublicAddress } from "../src/address.ts";

// [address, why it is not public]: every range the rule refuses, at its edges where it has edges.
const NON_PUBLIC: [string, string][] = [
  ["0.0.0.0", "this network"],
  ["0.255.255.255", "this network"],
  ["10.0.0.1", "private"],
  ["10.255.255.255", "private"],
  ["127.0.0.1", "loopback"],
  ["127.255.255.254", "loopback"],
  ["100.64.0.1", "shared address space"],
  ["100.127.255.255", "shared address space"],
  ["169.254.169.254", "link-local: cloud metadata"],
  ["172.16.0.1", "private"],
  ["172.31.255.255", "private"],
  ["192.168.1.1", "private"],
  ["192.0.0.8", "IETF protocol assignments"],
  ["192.0.2.1", "documentation"],
  ["198.18.0.1", "benchmarking"],
  ["198.19.255.255", "benchmarking"],
  ["198.51.100.7", "documentation"],
  ["203.0.113.9", "documentation"],
  ["224.0.0.1", "multicast"],
  ["240.0.0.1", "reserved"],
  ["255.255.255.255", "broadcast"],
  ["::", "unspecified"],
  ["::1", "loopback"],
  ["[::1]", "loopback, bracketed as in a URL"],
  ["::7f00:1", "IPv4-compatible 127.0.0.1"],
  ["::127.0.0.1", "IPv4-compatible, dotted"],
  ["::a9fe:a9fe", "IPv4-compatible 169.254.169.254"],
  ["::808:808", "IPv4-compatible, deprecated even for a public address"],
  ["::ffff:127.0.0.1", "IPv4-mapped loopback"],
  ["::ffff:7f00:1", "IPv4-mapped loopback, hex"],
  ["0:0:0:0:0:ffff:a00:1", "IPv4-mapped 10.0.0.1, written out"],
  ["::ffff:a9fe:a9fe", "IPv4-mapped metadata address"],
  ["::ffff:0:a00:1", "IPv4-translated 10.0.0.1"],
  ["64:ff9b::7f00:1", "NAT64 of 127.0.0.1"],
  ["64:ff9b::10.1.2.3", "NAT64 of 10.1.2.3, dotted"],
  ["64:ff9b::a9fe:a9fe", "NAT64 of the metadata address"],
  ["64:ff9b:1::1", "NAT64 for local use"],
  ["64:ff9b:1:ffff::808:808", "NAT64 for local use, whatever it embeds"],
  ["2002:7f00:1::1", "6to4 of 127.0.0.1"],
  ["2002:c0a8:101::", "6to4 of 192.168.1.1"],
  ["100::1", "discard-only"],
  ["2001:db8::1", "documentation"],
  ["fc00::1", "unique local"],
  ["fd12:3456:789a::1", "unique local"],
  ["fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique local, top of the range"],
  ["fe80::1", "link-local"],
  ["fe80::1%eth0", "link-local with a zone"],
  ["febf::1", "link-local, top of the range"],
  ["fec0::1", "site-local"],
  ["feff:ffff::1", "site-local, top of the range"],
  ["ff00::", "multicast, bottom of the range"],
  ["ff02::1", "multicast"],
  ["not-an-address", "not an address at all"],
  ["1::2::3", "not an address: two ::"],
  ["1:2:3:4:5:6:7:8:9", "not an address: nine groups"],
  ["256.1.1.1", "not an address: a byte over 255"],
];

const PUBLIC: [string, string][] = [
  ["1.1.1.1", "public"],
  ["8.8.8.8", "public"],
  ["100.63.255.255", "just below shared address space"],
  ["100.128.0.0", "just above shared address space"],
  ["172.15.255.255", "just below 172.16/12"],
  ["172.32.0.0", "just above 172.16/12"],
  ["169.253.255.255", "just below link-local"],
  ["198.17.255.255", "just below benchmarking"],
  ["223.255.255.255", "just below multicast"],
  ["::ffff:8.8.8.8", "IPv4-mapped public address"],
  ["::ffff:808:808", "IPv4-mapped public address, hex"],
  ["64:ff9b::8.8.8.8", "NAT64 of a public address"],
  ["64:ff9b::101:101", "NAT64 of 1.1.1.1, hex"],
  ["2002:808:808::1", "6to4 of a public address"],
  ["2606:4700:4700::1111", "public IPv6"],
  ["2001:4860:4860::8888", "public IPv6"],
  ["[2a00:1450:4001::200e]", "public IPv6, bracketed"],
  ["fbff::1", "just below unique local"],
  ["2000::1", "bottom of global unicast"],
];

describe("the address rule shared by the edge's URL check and the dispatcher's connect-time check", () => {
  it.each(NON_PUBLIC)("refuses %s (%s)", (address) => {
    expect(isNonPublicAddress(address)).toBe(true);
  });

  it.each(PUBLIC)("allows %s (%s)", (address) => {
    expect(isNonPublicAddress(address)).toBe(false);
  });

  it("tells address literals from names", () => {
    for (const [address] of [...NON_PUBLIC.slice(0, -4), ...PUBLIC]) expect(isIpAddress(address), address).toBe(true);
    for (const name of ["example.com", "localhost", "1.2.3", "1.2.3.4.5", "::g", "not-an-address"]) {
      expect(isIpAddress(name), name).toBe(false);
    }
  });
});
