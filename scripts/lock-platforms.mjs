#!/usr/bin/env node
// The registry mirror this project installs from does not serve every platform's optional
// native binaries (e.g. @chdb/lib-darwin-arm64), so `npm install` leaves them out of
// package-lock.json and `npm ci` then refuses the lockfile as out of sync. This puts back an
// entry for each missing optional dependency, with the os/cpu/libc its name declares, so that
// `npm ci` skips it as foreign to the platform. Run after any `npm install` that changes deps.
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const PLATFORM = /-(darwin|linux|win32|freebsd|android)-(arm64|x64|arm|ia32)(?:-(gnu|musl|msvc))?$/;
let added = 0;
for (const entry of Object.values(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (lock.packages[key]) continue;
    const m = PLATFORM.exec(name);
    if (!m) continue;
    const e = { version, optional: true, os: [m[1]], cpu: [m[2]] };
    if (m[3] === 'gnu') e.libc = ['glibc'];
    if (m[3] === 'musl') e.libc = ['musl'];
    lock.packages[key] = e;
    added++;
  }
}
const sorted = {};
for (const k of Object.keys(lock.packages).sort((a, b) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b)))) sorted[k] = lock.packages[k];
lock.packages = sorted;
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: ${added} foreign-platform optional entries added`);
