/**
 * The demo's sample catalogue: three meters and the four plans Tally is usually sold with
 * (Free, Starter, Professional, Enterprise), as the bodies of the API calls that create them.
 */
export const DEMO_METERS = [
  { key: 'api_calls', name: 'API calls', aggregation: 'sum', unit: 'calls' },
  { key: 'storage_gb', name: 'Storage', aggregation: 'max', unit: 'GB' },
  { key: 'seats', name: 'Seats', aggregation: 'max', unit: 'seats' },
] as const;

export const DEMO_PLANS = [
  {
    code: 'free',
    name: 'Free',
    currency: 'USD',
    interval: 'month',
    base_fee: '0',
    charges: [{ meter: 'api_calls', model: 'graduated', tiers: [{ up_to: '10000', unit_price: '0' }, { up_to: null, unit_price: '0.002' }] }],
    features: [
      { key: 'projects', name: 'Projects', type: 'static', value: 1 },
      { key: 'api_calls', name: 'API calls', type: 'metered', meter: 'api_calls', limit: '100000', hard: false },
    ],
  },
  {
    code: 'starter',
    name: 'Starter',
    currency: 'USD',
    interval: 'month',
    base_fee: '49.00',
    charges: [
      { meter: 'api_calls', model: 'graduated', tiers: [{ up_to: '100000', unit_price: '0' }, { up_to: null, unit_price: '0.001' }] },
      { meter: 'storage_gb', model: 'per_unit', unit_price: '0.10', included: '10' },
    ],
    features: [
      { key: 'projects', name: 'Projects', type: 'static', value: 10 },
      { key: 'api_calls', name: 'API calls', type: 'metered', meter: 'api_calls', limit: '1000000', hard: false },
    ],
  },
  {
    code: 'pro',
    name: 'Professional',
    currency: 'USD',
    interval: 'month',
    base_fee: '199.00',
    charges: [
      { meter: 'api_calls', model: 'graduated', tiers: [{ up_to: '100000', unit_price: '0' }, { up_to: null, unit_price: '0.0008' }] },
      { meter: 'storage_gb', model: 'per_unit', unit_price: '0.08', included: '1000' },
      { meter: 'seats', model: 'per_unit', unit_price: '12', included: '5' },
    ],
    features: [
      { key: 'sso', name: 'Single sign-on', type: 'boolean' },
      { key: 'projects', name: 'Projects', type: 'static', value: 50 },
      { key: 'api_calls', name: 'API calls', type: 'metered', meter: 'api_calls', limit: '5000000', hard: false },
    ],
  },
  {
    code: 'enterprise',
    name: 'Enterprise',
    currency: 'USD',
    interval: 'month',
    base_fee: '999.00',
    charges: [
      {
        meter: 'api_calls',
        model: 'volume',
        tiers: [
          { up_to: '1000000', unit_price: '0.0006' },
          { up_to: '10000000', unit_price: '0.0004' },
          { up_to: null, unit_price: '0.0003' },
        ],
      },
      { meter: 'storage_gb', model: 'per_unit', unit_price: '0.05', included: '5000' },
      { meter: 'seats', model: 'package', package_size: '10', unit_price: '80', round: 'up', minimum: '160' },
    ],
    features: [
      { key: 'sso', name: 'Single sign-on', type: 'boolean' },
      { key: 'priority_support', name: 'Priority support', type: 'boolean' },
      { key: 'projects', name: 'Projects', type: 'static', value: 'unlimited' },
    ],
  },
] as const;

export type DemoPlanCode = (typeof DEMO_PLANS)[number]['code'];
