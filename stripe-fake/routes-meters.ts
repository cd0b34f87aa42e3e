import { errors } from './errors.js';
import { isFormObject } from './form.js';
import { listPage, listParams } from './lists.js';
import type { Meter, MeterEvent } from './objects.js';
import { type Param, childName, expand, object, oneOf, optional, str, timestamp } from './params.js';
import { type Route, checkExpand, route } from './router.js';
import { newestFirst } from './store.js';

/**
 * Billing meters and v1 meter events.
 *
 * A meter event names an active meter, carries the meter's customer key (default
 * `stripe_customer_id`) naming an existing customer and, unless the meter counts events, its
 * value key (default `value`) holding an integer of at most 15 digits (Stripe takes negative
 * values, which lower the period's sum); its timestamp lies within the past 35 days
 * and at most 5 minutes ahead; an identifier seen in the past 24 hours is refused with
 * `duplicate_meter_event`. Stripe checks the meter and the customer after accepting the event
 * and reports failures later (meter error reports); this server refuses them at once, so a test
 * fails on the request that caused it.
 */
const DAY = 86_400;
const PAST_WINDOW = 35 * DAY;
const FUTURE_WINDOW = 5 * 60;
const IDENTIFIER_TTL_MS = 24 * 60 * 60 * 1000;
/** Since API version 2026-04-22 Stripe refuses values of more than 15 significant digits (double precision). */
const MAX_VALUE_DIGITS = 15;

function payload(): Param<Record<string, string>> {
  return {
    optional: false,
    parse(raw, name) {
      if (!isFormObject(raw)) throw errors.invalidHash(name);
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw errors.invalidString(childName(name, k));
        out[k] = v;
      }
      return out;
    },
  };
}

export const meterRoutes: Route[] = [
  route(
    'POST',
    '/v1/billing/meters',
    {
      display_name: str({ max: 250 }),
      event_name: str({ max: 100 }),
      default_aggregation: object({ formula: oneOf(['count', 'last', 'sum'] as const) }),
      customer_mapping: optional(object({ event_payload_key: str({ max: 100 }), type: oneOf(['by_id'] as const) })),
      value_settings: optional(object({ event_payload_key: str({ max: 100 }) })),
      event_time_window: optional(oneOf(['day', 'hour'] as const)),
      expand: expand(),
    },
    ({ store }, p) => {
      checkExpand(p.expand, []);
      if (store.activeMeterFor(p.event_name) !== undefined) throw errors.invalidRequest(`An active meter with event_name '${p.event_name}' already exists.`, 'event_name');
      const now = store.now();
      const m: Meter = {
        id: store.ids.next('mtr'),
        object: 'billing.meter',
        created: now,
        customer_mapping: p.customer_mapping ?? { event_payload_key: 'stripe_customer_id', type: 'by_id' },
        default_aggregation: p.default_aggregation,
        display_name: p.display_name,
        event_name: p.event_name,
        event_time_window: p.event_time_window ?? null,
        livemode: false,
        status: 'active',
        status_transitions: { deactivated_at: null },
        updated: now,
        value_settings: p.value_settings ?? { event_payload_key: 'value' },
      };
      const e = store.entry(m);
      store.meters.set(m.id, e);
      return structuredClone(m);
    },
  ),
  route('GET', '/v1/billing/meters', { ...listParams, status: optional(oneOf(['active', 'inactive'] as const)), expand: expand() }, ({ store }, p) => {
    checkExpand(p.expand, []);
    const all = newestFirst(store.meters.values())
      .filter((e) => p.status === undefined || e.obj.status === p.status)
      .map((e) => structuredClone(e.obj));
    return listPage(all, p, '/v1/billing/meters', 'billing.meter');
  }),
  route('GET', '/v1/billing/meters/:id', { expand: expand() }, ({ store }, p, path) => {
    checkExpand(p.expand, []);
    return structuredClone(store.meter(path.id ?? '', 'id', 404).obj);
  }),
  route(
    'POST',
    '/v1/billing/meter_events',
    { event_name: str({ max: 100 }), payload: payload(), identifier: optional(str({ max: 100 })), timestamp: optional(timestamp()), expand: expand() },
    ({ store }, p) => {
      checkExpand(p.expand, []);
      const meter = store.activeMeterFor(p.event_name);
      if (meter === undefined) throw errors.resourceMissing('active meter with event_name', p.event_name, 'event_name');
      const customerKey = meter.obj.customer_mapping.event_payload_key;
      const valueKey = meter.obj.value_settings.event_payload_key;
      const customer = p.payload[customerKey];
      if (customer === undefined) throw errors.missingParam(`payload[${customerKey}]`);
      store.customer(customer, `payload[${customerKey}]`);
      const value = p.payload[valueKey];
      if (value === undefined && meter.obj.default_aggregation.formula !== 'count') throw errors.missingParam(`payload[${valueKey}]`);
      if (value !== undefined && !/^-?\d+$/.test(value)) {
        throw errors.invalidRequest(`Invalid payload[${valueKey}]: meter event values must be integers (got '${value}'); send a whole number of a scaled unit.`, `payload[${valueKey}]`);
      }
      if (value !== undefined && value.replace(/^-?0*/, '').length > MAX_VALUE_DIGITS) {
        throw errors.invalidRequest(`The value in the event payload can have at most ${MAX_VALUE_DIGITS} digits. Received ${value}.`, `payload[${valueKey}]`);
      }
      const now = store.now();
      const ts = p.timestamp ?? now;
      if (ts < now - PAST_WINDOW) throw errors.invalidRequest(`Invalid timestamp: ${ts} is more than 35 days in the past.`, 'timestamp');
      if (ts > now + FUTURE_WINDOW) throw errors.invalidRequest(`Invalid timestamp: ${ts} is more than 5 minutes in the future.`, 'timestamp');
      const identifier = p.identifier ?? store.ids.uuid();
      const seenAt = store.identifiers.get(identifier);
      if (seenAt !== undefined && store.clock() - seenAt < IDENTIFIER_TTL_MS) {
        throw errors.invalidRequest(`An event already exists with identifier ${identifier}.`, 'identifier', 'duplicate_meter_event');
      }
      const event: MeterEvent = { object: 'billing.meter_event', created: now, event_name: p.event_name, identifier, livemode: false, payload: { ...p.payload }, timestamp: ts };
      store.identifiers.set(identifier, store.clock());
      store.meterEvents.push({ ...store.entry(event), meter: meter.obj.id, customer });
      return structuredClone(event);
    },
  ),
];
