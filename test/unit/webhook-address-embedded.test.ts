import { describe, expect, it } from 'vitest';
import { isPrivateHost, isPublicAddress } from '../../webhooks/address.js';

/**
 * IPv6 addresses that carry an IPv4 address are judged by the IPv4 address, whatever the
 * spelling: an IPv6 literal must not be a way round the guard on loopback, private and
 * link-local hosts.
 */
describe('IPv4 inside IPv6', () => {
  it.each([
    ['::127.0.0.1', 'IPv4-compatible, dotted'],
    ['::7f00:1', 'IPv4-compatible, hex'],
    ['::ffff:127.0.0.1', 'IPv4-mapped, dotted'],
    ['::ffff:7f00:1', 'IPv4-mapped, hex'],
    ['::FFFF:7F00:1', 'IPv4-mapped, upper case'],
    ['0:0:0:0:0:ffff:7f00:1', 'IPv4-mapped, uncompressed'],
    ['0000:0000:0000:0000:0000:ffff:0a00:0001', 'IPv4-mapped, zero-padded'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped metadata service'],
    ['::ffff:0:127.0.0.1', 'IPv4-translated, dotted'],
    ['::ffff:0:a00:1', 'IPv4-translated, hex'],
    ['64:ff9b::10.0.0.1', 'NAT64, dotted'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 to the metadata service'],
    ['64:ff9b::c0a8:101', 'NAT64 to 192.168.1.1'],
    ['64:ff9b:1::808:808', 'local-use NAT64, even to a public address'],
    ['64:ff9b:1:ffff::1', 'local-use NAT64, any address in the /48'],
    ['2002:7f00:1::', '6to4 of loopback'],
    ['2002:a9fe:a9fe::1', '6to4 of the metadata service'],
    ['2002:c0a8:101::1', '6to4 of 192.168.1.1'],
    ['2001:0:7f00:1::', 'Teredo with a loopback server'],
    ['2001:0:4136:e378:8000:63bf:f5ff:fffe', 'Teredo with a private client (10.0.0.1, inverted)'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1%eth0', 'link-local with a zone'],
  ])('%s (%s) is refused', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each([
    ['::ffff:8.8.8.8', 'IPv4-mapped public'],
    ['::ffff:808:808', 'IPv4-mapped public, hex'],
    ['::8.8.8.8', 'IPv4-compatible public'],
    ['64:ff9b::8.8.8.8', 'NAT64 to a public address'],
    ['2002:808:808::1', '6to4 of a public address'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo with public server and client'],
    ['2606:4700:4700::1111', 'plain public IPv6'],
  ])('%s (%s) is allowed', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });

  it.each(['http://[::ffff:127.0.0.1]/', 'http://[::127.0.0.1]/', 'http://[::ffff:0:10.0.0.1]/', 'http://[64:ff9b::169.254.169.254]/', 'http://[2002:a00:1::1]/'])(
    'the URL %s names a host inside the network (URL parsing rewrites the IPv4 part in hex)',
    (url) => {
      expect(isPrivateHost(new URL(url).hostname)).toBe(true);
    },
  );
});
