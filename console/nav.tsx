import type { Identity } from './api';
import { link } from './router';

const TENANT_PAGES = [
  ['events', 'Live events'],
  ['usage', 'Meters & usage'],
  ['customers', 'Customers'],
  ['invoices', 'Invoices'],
  ['plans', 'Plans'],
  ['webhooks', 'Webhooks'],
  ['pipeline', 'Pipeline'],
] as const;
const ADMIN_PAGES = [['tenants', 'Tenants']] as const;

/** The pages a key can open, the current one marked for assistive technology too. */
export function Nav({ identity, current }: { identity: Identity; current: string }) {
  const pages = identity.kind === 'admin' ? ADMIN_PAGES : TENANT_PAGES;
  return (
    <nav class="main-nav" aria-label="Console">
      <ul>
        {pages.map(([path, name]) => (
          <li key={path}>
            <a href={link(path)} aria-current={current === path ? 'page' : undefined}>
              {name}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
