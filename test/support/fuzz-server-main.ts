import { startStripeFake } from '../../stripe-fake/index.js';
import { ADMIN_KEY, startTestApi } from './api.js';

/**
 * Entry of the child process the fuzz test talks to (started by fuzz-server.ts): the real API
 * on fresh stores, exactly as `startTestApi` builds it in a test, in its own process so that a
 * request that kills Node kills only this process and the test can say which request did it.
 * Routes that call Stripe (the payment-method link) call the local Stripe server, started here
 * with it. Prints one line `FUZZ_SERVER_READY {"url", "adminKey"}`, stops when stdin closes.
 */
const env = JSON.parse(process.env.FUZZ_SERVER_ENV ?? '{}') as Record<string, string>;
const stripe = await startStripeFake({ writesPerSecond: 1_000_000 });
const api = await startTestApi({ env: { STRIPE_SECRET_KEY: 'sk_test_fuzz', STRIPE_API_BASE: stripe.url, ...env } });
process.stdout.write(`FUZZ_SERVER_READY ${JSON.stringify({ url: api.url, adminKey: ADMIN_KEY })}\n`);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await api.stop().catch(() => undefined);
  await stripe.close().catch(() => undefined);
  process.exit(0);
};
process.stdin.on('end', () => void stop());
process.stdin.on('close', () => void stop());
process.stdin.resume();
