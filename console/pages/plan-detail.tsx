import type { ComponentChildren } from 'preact';
import type { Api } from '../api';
import type { Plan } from '../api-types';
import { Page } from '../components/page';
import { ChargeText, FeatureText, Tiers } from '../components/pricing';
import { Show } from '../components/status';
import { Table } from '../components/table';
import { Money, Time } from '../components/values';
import { words } from '../format';
import { useApi, useLoad } from '../hooks';
import { link } from '../router';

/** The most versions side by side (the latest ones). */
const MAX_VERSIONS = 8;

/** The latest version of a plan and the ones before it, oldest first. */
async function versions(api: Api, code: string, signal: AbortSignal): Promise<Plan[]> {
  const latest = await api.plan(code, undefined, signal);
  const older: number[] = [];
  for (let v = Math.max(1, latest.version - MAX_VERSIONS + 1); v < latest.version; v++) older.push(v);
  const before = await Promise.all(older.map((v) => api.plan(code, v, signal)));
  return [...before, latest];
}

/** A plan's versions side by side: one column per version, one row per property, charge and feature; what a version changed is marked. */
export function PlanDetail({ code }: { code: string }) {
  const api = useApi();
  const [plans] = useLoad((signal) => versions(api, code, signal), [code]);
  const latest = plans.state === 'ok' ? plans.data[plans.data.length - 1] : undefined;
  return (
    <Page title={latest === undefined ? `Plan ${code}` : `Plan ${latest.name} (${code})`}>
      <p>
        <a href={link('plans')}>← All plans</a>
      </p>
      <Show loaded={plans} what="the plan">
        {(list) => <Versions plans={list} />}
      </Show>
    </Page>
  );
}

function Versions({ plans }: { plans: Plan[] }) {
  const latest = plans[plans.length - 1];
  if (latest === undefined) return null;
  const meters = [...new Set(plans.flatMap((p) => p.charges.map((c) => c.meter)))];
  const features = [...new Set(plans.flatMap((p) => p.features.map((f) => f.key)))];
  /** A row of one property across versions; a cell whose `value` differs from the version before is marked changed. */
  const row = (label: string, cell: (p: Plan) => ComponentChildren, value: (p: Plan) => unknown, key = label) => (
    <tr key={key}>
      <th scope="row">{label}</th>
      {plans.map((p, i) => {
        const before = plans[i - 1];
        const changed = before !== undefined && JSON.stringify(value(p)) !== JSON.stringify(value(before));
        return (
          <td key={p.version} data-version={p.version} class={changed ? 'changed' : undefined} data-changed={changed ? 'true' : undefined}>
            {cell(p)}
            {changed ? <span class="changed-note"> (changed)</span> : null}
          </td>
        );
      })}
    </tr>
  );
  const group = (label: string) => (
    <tr class="group-row" key={`group-${label}`}>
      <th scope="rowgroup" colSpan={plans.length + 1}>
        {label}
      </th>
    </tr>
  );
  return (
    <>
      {latest.version > plans.length ? <p class="muted">Showing the latest {plans.length} of {latest.version} versions.</p> : null}
      <Table caption={`Versions of plan ${latest.code}, oldest first`} testId="plan-versions">
        <thead>
          <tr>
            <th scope="col">
              <span class="visually-hidden">Property</span>
            </th>
            {plans.map((p) => (
              <th key={p.version} scope="col" data-version={p.version}>
                Version {p.version}
                {p === latest ? ' (latest)' : ''}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {row('Name', (p) => p.name, (p) => p.name)}
          {row('Created', (p) => <Time at={p.created_at} dateOnly />, () => null)}
          {row('Currency', (p) => p.currency, (p) => p.currency)}
          {row('Interval', (p) => p.interval, (p) => p.interval)}
          {row('Base fee', (p) => <Money amount={p.base_fee} currency={p.currency} />, (p) => p.base_fee)}
          {row(
            'Seat pricing',
            (p) =>
              p.seat_pricing === null ? (
                <span class="muted">per seat at the base fee</span>
              ) : (
                <>
                  <strong>{words(p.seat_pricing.model)}</strong>
                  <Tiers tiers={p.seat_pricing.tiers} currency={p.currency} unit="seat" />
                </>
              ),
            (p) => p.seat_pricing,
          )}
          {row('Trial days', (p) => String(p.trial_days), (p) => p.trial_days)}
          {row('Billing', (p) => words(p.billing_mode), (p) => p.billing_mode)}
          {row('Credit allowance', (p) => <Money amount={p.credit_allowance} currency={p.currency} />, (p) => p.credit_allowance)}
        </tbody>
        <tbody>
          {group('Charges')}
          {meters.length === 0
            ? row('None', () => '', () => null, 'no-charges')
            : meters.map((meter) => {
                const charge = (p: Plan) => p.charges.find((c) => c.meter === meter);
                return row(meter, (p) => {
                  const c = charge(p);
                  return c === undefined ? <span class="muted">none</span> : <ChargeText charge={c} currency={p.currency} />;
                }, (p) => charge(p) ?? null, `charge-${meter}`);
              })}
        </tbody>
        <tbody>
          {group('Features')}
          {features.length === 0
            ? row('None', () => '', () => null, 'no-features')
            : features.map((key) => {
                const feature = (p: Plan) => p.features.find((f) => f.key === key);
                return row(key, (p) => {
                  const f = feature(p);
                  return f === undefined ? <span class="muted">not included</span> : <FeatureText feature={f} />;
                }, (p) => feature(p) ?? null, `feature-${key}`);
              })}
        </tbody>
      </Table>
    </>
  );
}
