import { startStripeFake } from './server.js';

/**
 * Runs the local Stripe server on its own. Environment (read here only, checked at start):
 * STRIPE_FAKE_PORT or PORT (default 12111, stripe-mock's port), STRIPE_FAKE_HOST (default
 * 127.0.0.1), STRIPE_WEBHOOK_URL and STRIPE_WEBHOOK_SECRET (both or neither),
 * STRIPE_FAKE_WRITES_PER_SECOND (default 25), STRIPE_FAKE_SEED (default 1).
 */
function fail(message: string): never {
  process.stderr.write(`stripe-fake: ${message}\n`);
  process.exit(1);
}

function integer(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) fail(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

const portVar = process.env.STRIPE_FAKE_PORT !== undefined && process.env.STRIPE_FAKE_PORT !== '' ? 'STRIPE_FAKE_PORT' : 'PORT';
const port = integer(portVar, 12111, 0, 65535);
const host = process.env.STRIPE_FAKE_HOST || '127.0.0.1';
const writesPerSecond = integer('STRIPE_FAKE_WRITES_PER_SECOND', 25, 1, 1_000_000);
const seed = integer('STRIPE_FAKE_SEED', 1, 0, 2 ** 32 - 1);
const webhookUrl = process.env.STRIPE_WEBHOOK_URL || undefined;
const webhookSecret = process.env.STRIPE_WEBHOOK_SECRET || undefined;
if ((webhookUrl === undefined) !== (webhookSecret === undefined)) fail('set both STRIPE_WEBHOOK_URL and STRIPE_WEBHOOK_SECRET, or neither');
if (webhookUrl !== undefined && !/^https?:\/\/.+/.test(webhookUrl)) fail(`STRIPE_WEBHOOK_URL must be an http(s) URL, got ${JSON.stringify(webhookUrl)}`);

const fake = await startStripeFake({
  port,
  host,
  writesPerSecond,
  seed,
  ...(webhookUrl !== undefined && webhookSecret !== undefined ? { webhook: { url: webhookUrl, secret: webhookSecret } } : {}),
});
process.stdout.write(
  `stripe-fake listening on ${fake.url}\n` +
    `  client: new Stripe('sk_test_…', { host: '${fake.host}', port: ${fake.port}, protocol: 'http' })\n` +
    `  control API: ${fake.url}/_fake\n` +
    `  webhooks: ${webhookUrl ?? 'none (PUT /_fake/webhook to set one)'}\n`,
);

const stop = () => {
  fake.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
