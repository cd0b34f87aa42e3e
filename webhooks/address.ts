import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';

/**
 * Where outbound webhooks may go. A tenant names the URL, so by default Tally refuses to send
 * to addresses inside the network it runs in — loopback, private ranges, link-local (cloud
 * metadata services), carrier-grade NAT, multicast and the like — both when an endpoint is
 * made (a literal address or `localhost`) and when it is delivered to (every address its name
 * resolves to, checked as the connection is made, so a name cannot be re-pointed between the
 * check and the send). TALLY_WEBHOOK_ALLOW_PRIVATE_URLS lifts this for receivers on a private
 * network.
 */
const BLOCKED = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  BLOCKED.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  // Local-use NAT64 (RFC 8215): a translator inside the network; where the IPv4 address sits
  // depends on the operator's prefix length, so the whole prefix is refused.
  ['64:ff9b:1::', 48],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  BLOCKED.addSubnet(net, bits, 'ipv6');
}

/** Whether an IP address is one webhooks may reach without TALLY_WEBHOOK_ALLOW_PRIVATE_URLS. */
export function isPublicAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  if (family === 6) {
    // An IPv6 address that carries an IPv4 address reaches that IPv4 host (directly, or
    // through a translator or relay that may sit inside the network), so it is judged by it.
    const embedded = embeddedIPv4(hextets(ip));
    if (embedded.length > 0) return embedded.every((v4) => !BLOCKED.check(v4, 'ipv4'));
    return !BLOCKED.check(ip, 'ipv6');
  }
  return !BLOCKED.check(ip, 'ipv4');
}

/** The eight 16-bit groups of an address `isIP` accepted as IPv6 (any spelling, dotted tail, zone id). */
function hextets(ip: string): number[] {
  const bare = ip.replace(/%.*$/, '');
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(bare);
  const text = v4 === null ? bare : `${bare.slice(0, v4.index)}${((Number(v4[1]) << 8) | Number(v4[2])).toString(16)}:${((Number(v4[3]) << 8) | Number(v4[4])).toString(16)}`;
  const [head = '', tail] = text.split('::');
  const before = head === '' ? [] : head.split(':');
  const after = tail === undefined || tail === '' ? [] : tail.split(':');
  const gap = tail === undefined ? [] : new Array<string>(8 - before.length - after.length).fill('0');
  return [...before, ...gap, ...after].map((g) => parseInt(g, 16));
}

/**
 * The IPv4 addresses an IPv6 address stands for: IPv4-compatible `::a.b.c.d`, IPv4-mapped
 * `::ffff:a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`, well-known NAT64 `64:ff9b::a.b.c.d`,
 * 6to4 `2002:AABB:CCDD::` and Teredo `2001:0:SSSS:SSSS::CCCC:CCCC` (its server, and its client
 * with the bits inverted). `::` and `::1` come out as 0.0.0.0 and 0.0.0.1, which are refused too.
 */
function embeddedIPv4(g: readonly number[]): string[] {
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  const zero = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  if (zero(0, 5) && (g5 === 0 || g5 === 0xffff)) return [v4(g6, g7)];
  if (zero(0, 4) && g4 === 0xffff && g5 === 0) return [v4(g6, g7)];
  if (g0 === 0x64 && g1 === 0xff9b && zero(2, 6)) return [v4(g6, g7)];
  if (g0 === 0x2002) return [v4(g1, g2)];
  if (g0 === 0x2001 && g1 === 0) return [v4(g2, g3), v4(g6 ^ 0xffff, g7 ^ 0xffff)];
  return [];
}

/** Names that mean this machine on common systems' hosts files, whatever DNS says. */
const LOCAL_NAMES = new Set(['localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

/** Whether a URL's host is, on its face, inside the network (a literal private address or a local name). */
export function isPrivateHost(hostname: string): boolean {
  // A trailing dot names the same host (`localhost.` is `localhost`, absolute).
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.+$/, '');
  if (host === 'localhost' || host.endsWith('.localhost') || LOCAL_NAMES.has(host)) return true;
  return isIP(host) !== 0 && !isPublicAddress(host);
}

export class PrivateAddressError extends Error {
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address}, an address inside the network: refused (TALLY_WEBHOOK_ALLOW_PRIVATE_URLS allows it)`);
    this.name = 'PrivateAddressError';
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for http.request that refuses names resolving to addresses inside the network. */
export function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err !== null) return callback(err, []);
    const refused = addresses.find((a) => !isPublicAddress(a.address));
    if (refused !== undefined) return callback(Object.assign(new PrivateAddressError(hostname, refused.address), { code: 'EPRIVATE' }), []);
    if (options.all === true) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}
