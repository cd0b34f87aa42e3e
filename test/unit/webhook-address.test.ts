import { describe, expect, it } from 'vitest';
import { isPrivateHost, isPublicAddress } from '../../webhooks/address.js';

describe('webhook addresses', () => {
  it.each([
    ['127.0.0.1', false],
    ['127.255.0.9', false],
    ['10.0.0.1', false],
    ['172.16.5.4', false],
    ['172.32.0.1', true],
    ['192.168.1.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['0.0.0.0', false],
    ['224.0.0.1', false],
    ['8.8.8.8', true],
    ['93.184.216.34', true],
    ['::1', false],
    ['::', false],
    ['fd00::1', false],
    ['fe80::1', false],
    ['::ffff:10.0.0.1', false],
    ['::ffff:8.8.8.8', true],
    ['2606:4700:4700::1111', true],
    ['not an address', false],
  ])('%s is public: %s', (ip, expected) => {
    expect(isPublicAddress(ip)).toBe(expected);
  });

  it.each([
    ['localhost', true],
    ['api.localhost', true],
    ['localhost.', true],
    ['LOCALHOST.', true],
    ['api.localhost.', true],
    ['localhost.localdomain', true],
    ['ip6-localhost', true],
    ['LOCALHOST', true],
    ['[::1]', true],
    ['10.0.0.8', true],
    ['example.com', false],
    ['8.8.8.8', false],
  ])('%s is inside the network on its face: %s', (host, expected) => {
    expect(isPrivateHost(host)).toBe(expected);
  });
});
