/** A local Stripe-compatible server for tests and development; see README.md. */
export { startStripeFake } from './server.js';
export type { FaultControl, InvoiceWithItems, MeterEventRecord, RequestRecord, StateSnapshot, StripeFake, StripeFakeOptions, StripeFakeState, WebhookControl } from './api.js';
export { FAULT_KINDS, type FaultKind, type FaultRule } from './faults.js';
export { API_VERSION, signatureHeader, type Delivery, type EventType, type StripeEvent, type WebhookConfig } from './webhooks.js';
export { formatMinor, minorUnits } from './currency.js';
export { MAX_ITEMS_PER_INVOICE } from './invoices.js';
export type { RenderedCreditNote } from './credit-notes.js';
