// Which IP addresses a server-side request (a webhook delivery) may go to. One rule, used twice: by the edge when a
// webhook URL names a literal address, and by the dispatcher for every address a name resolves to, at connect time
// (SECURITY.md, server-side request forgery). Web APIs only: the edge imports it.

/** The four bytes of a dotted-quad IPv4 address, or null. */
function ipv4Bytes(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part))) return null;
  const bytes = parts.map(Number);
  return bytes.every((byte) => byte <= 255) ? bytes : null;
}

/** The eight 16-bit groups of an IPv6 address (with `::`, a dotted IPv4 tail and a `%zone` allowed), or null. */
function ipv6Groups(text: string): number[] | null {
  let address = text.replace(/%.*$/, "");
  const dotted = address.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const bytes = ipv4Bytes(dotted[2] as string);
    if (!bytes) return null;
    const [a, b, c, d] = bytes as [number, number, number, number];
    address = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const parse = (half: string) => (half === "" ? [] : half.split(":"));
  const head = parse(halves[0] as string);
  const tail = halves.length === 2 ? parse(halves[1] as string) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!groups.every((group) => /^[0-9a-f]{1,4}$/i.test(group))) return null;
  return groups.map((group) => Number.parseInt(group, 16));
}

/** Whether an IPv4 address (four bytes) is loopback, private, link-local, shared, reserved or otherwise not public. */
function nonPublicV4([a, b, c]: number[]): boolean {
  return (
    a === 0 || // "this network"
    a === 10 || // private
    a === 127 || // loopback
    (a === 100 && (b as number) >= 64 && (b as number) <= 127) || // shared (carrier-grade NAT)
    (a === 169 && b === 254) || // link-local, cloud metadata at 169.254.169.254
    (a === 172 && (b as number) >= 16 && (b as number) <= 31) || // private
    (a === 192 && b === 168) || // private
    (a === 192 && b === 0 && (c === 0 || c === 2)) || // IETF protocol assignments; documentation
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    (a === 198 && b === 51 && c === 100) || // documentation
    (a === 203 && b === 0 && c === 113) || // documentation
    (a as number) >= 224 // multicast, reserved, broadcast
  );
}

/** The IPv4 address in the low 32 bits of IPv6 groups. */
const low32 = (groups: number[]) => {
  const [g6, g7] = [groups[6] as number, groups[7] as number];
  return [g6 >> 8, g6 & 255, g7 >> 8, g7 & 255];
};

function nonPublicV6(groups: number[]): boolean {
  const [g0, g1, g2, g3, g4, g5] = groups as [number, number, number, number, number, number];
  const zeroTo = (end: number) => groups.slice(0, end).every((group) => group === 0);
  // ::/96: the unspecified address, loopback, and IPv4-compatible addresses (deprecated, RFC 4291: none is public).
  if (zeroTo(6)) return true;
  // ::ffff:0:0/96 IPv4-mapped, ::ffff:0:0:0/96 IPv4-translated: the IPv4 address they stand for decides.
  if (zeroTo(5) && g5 === 0xffff) return nonPublicV4(low32(groups));
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return nonPublicV4(low32(groups));
  // 64:ff9b::/96, NAT64's well-known prefix: a gateway connects to the IPv4 address in the low 32 bits.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) {
    return nonPublicV4(low32(groups));
  }
  // 64:ff9b:1::/48, NAT64 for local use (RFC 8215): translated inside the network.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return true;
  // 2002::/16, 6to4: the relay connects to the IPv4 address in bits 16-47.
  if (g0 === 0x2002) return nonPublicV4([g1 >> 8, g1 & 255, g2 >> 8, g2 & 255]);
  return (
    (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0) || // 100::/64 discard-only
    (g0 === 0x2001 && g1 === 0xdb8) || // 2001:db8::/32 documentation
    (g0 & 0xfe00) === 0xfc00 || // fc00::/7 unique local
    (g0 & 0xffc0) === 0xfe80 || // fe80::/10 link-local
    (g0 & 0xffc0) === 0xfec0 || // fec0::/10 site-local (deprecated, still routed inside some networks)
    (g0 & 0xff00) === 0xff00 // ff00::/8 multicast
  );
}

/** Whether `host` is an IP address literal (IPv4 dotted quad, or IPv6 with or without brackets). */
export function isIpAddress(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  return ipv4Bytes(bare) !== null || ipv6Groups(bare) !== null;
}

/**
 * Whether a request to this IP address (IPv4 or IPv6, brackets allowed) could reach the deployment's own network
 * rather than the public internet: loopback, private, link-local, shared, site-local, unique-local, multicast,
 * reserved, and IPv6 forms that carry such an IPv4 address (mapped, compatible, translated, NAT64, 6to4). Anything
 * that is not an address at all counts as non-public too.
 */
export function isNonPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[(.*)\]$/, "$1");
  const v4 = ipv4Bytes(bare);
  if (v4) return nonPublicV4(v4);
  const v6 = ipv6Groups(bare);
  return v6 === null || nonPublicV6(v6);
}
