import { Dec } from '../core/money.js';
import type { DemoPlanCode } from './catalog.js';

/**
 * The demo's customers and their synthetic usage, from a seed, so every run makes the same
 * month: a mix of plans (most customers small), each customer with a daily API volume around
 * its plan's typical one, storage that grows through the month, and seats that change now and
 * then. Pure: no clock, no IO.
 */
export interface DemoCustomer {
  id: string;
  name: string;
  plan: DemoPlanCode;
}

export interface DemoEvent {
  id: string;
  customer: string;
  meter: 'api_calls' | 'storage_gb' | 'seats';
  value: string;
  timestamp: string;
}

/** mulberry32: a small, fast, seeded generator (not for anything secret). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const PROFILE: Record<DemoPlanCode, { share: number; calls: number; storage: number; seats: number }> = {
  free: { share: 0.4, calls: 330, storage: 1, seats: 1 },
  starter: { share: 0.3, calls: 4_000, storage: 15, seats: 2 },
  pro: { share: 0.2, calls: 40_000, storage: 1_200, seats: 8 },
  enterprise: { share: 0.1, calls: 400_000, storage: 6_000, seats: 35 },
};

const NAMES = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Vandelay', 'Stark', 'Wayne', 'Tyrell', 'Soylent', 'Cyberdyne', 'Wonka'];
const KINDS = ['Labs', 'Cloud', 'Analytics', 'Systems', 'Networks', 'Health', 'Retail', 'Logistics'];

export function demoCustomers(count: number, seed: number): DemoCustomer[] {
  const rnd = seeded(seed);
  const plans = Object.keys(PROFILE) as DemoPlanCode[];
  return Array.from({ length: count }, (_, i) => {
    let r = rnd();
    let plan: DemoPlanCode = 'free';
    for (const p of plans) {
      if (r < PROFILE[p].share) {
        plan = p;
        break;
      }
      r -= PROFILE[p].share;
    }
    const name = `${NAMES[i % NAMES.length]} ${KINDS[Math.floor(i / NAMES.length) % KINDS.length]} ${Math.floor(i / (NAMES.length * KINDS.length)) + 1}`;
    return { id: `cus_demo_${String(i + 1).padStart(4, '0')}`, name, plan };
  });
}

/** Each customer's events from `from` (ms) for `days` days, four API batches a day, storage daily, seats weekly. */
export function demoUsage(customers: readonly DemoCustomer[], from: number, days: number, seed: number): DemoEvent[] {
  const rnd = seeded(seed);
  const DAY = 86_400_000;
  const out: DemoEvent[] = [];
  for (const c of customers) {
    const p = PROFILE[c.plan];
    // Each customer sits somewhere between half and twice its plan's typical volume.
    const scale = 0.5 + rnd() * 1.5;
    for (let d = 0; d < days; d++) {
      const dayStart = from + d * DAY;
      for (let k = 0; k < 4; k++) {
        const calls = Math.max(0, Math.floor(((p.calls * scale) / 4) * (0.6 + rnd() * 0.8)));
        out.push({ id: `${c.id}-api-${d}-${k}`, customer: c.id, meter: 'api_calls', value: String(calls), timestamp: new Date(dayStart + k * 6 * 3_600_000 + Math.floor(rnd() * 3_600_000)).toISOString() });
      }
      // Whole thousandths of a GB, written as an exact decimal.
      const storage = new Dec(Math.floor(p.storage * 1000 * scale * (0.5 + d / days))).div(1000).toFixed(3);
      out.push({ id: `${c.id}-storage-${d}`, customer: c.id, meter: 'storage_gb', value: storage, timestamp: new Date(dayStart + 12 * 3_600_000).toISOString() });
      if (d % 7 === 0) {
        const seats = Math.max(1, Math.floor(p.seats * scale * (0.8 + rnd() * 0.4) + 0.5));
        out.push({ id: `${c.id}-seats-${d}`, customer: c.id, meter: 'seats', value: String(seats), timestamp: new Date(dayStart + 9 * 3_600_000).toISOString() });
      }
    }
  }
  return out;
}
