import Stripe from 'stripe';
import type { StripeFake } from '../../stripe-fake/index.js';

/** The official `stripe` client pointed at the local Stripe server, without retries (the tests see each answer). */
export function stripeClient(fake: StripeFake): Stripe {
  return new Stripe('sk_test_fake', { ...fake.clientOptions, maxNetworkRetries: 0, telemetry: false });
}

/** The Stripe error a call fails with (the test fails if it succeeds). */
export async function stripeError(p: Promise<unknown>): Promise<InstanceType<typeof Stripe.errors.StripeError>> {
  try {
    await p;
  } catch (e) {
    if (e instanceof Stripe.errors.StripeError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}
