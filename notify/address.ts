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
    // An IPv4 address written as IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped !== null) return isPublicAddress(mapped[1]!);
    return !BLOCKED.check(ip, 'ipv6');
  }
  return !BLOCKED.check(ip, 'ipv4');
}

/** Whether a URL's host is, on its face, inside the network (a literal private address or a local name). */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
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
