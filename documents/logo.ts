import { TallyError } from '../core/errors.js';
import type { Queryable } from '../core/postgres.js';
import { ensureProfile } from '../invoicing/billing-profile.js';
import type { Logo } from './pdf.js';

/** The largest logo accepted: a letterhead image, not a photo. */
export const MAX_LOGO_BYTES = 512 * 1024;

const SIGNATURES: Record<Logo['type'], Buffer> = {
  'image/png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  'image/jpeg': Buffer.from([0xff, 0xd8, 0xff]),
};

/**
 * A logo as uploaded: PNG or JPEG by its declared type, its bytes starting as that type does,
 * then read through whole and embedded once by `read` (logo-read.ts, on the PDF worker), so no
 * document of the tenant fails on it later.
 */
export async function checkLogo(contentType: string | undefined, data: Buffer, read: (logo: Logo) => Promise<string | undefined>): Promise<Logo> {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'image/png' && type !== 'image/jpeg') throw new TallyError('TALLY_ERR_UNSUPPORTED_MEDIA_TYPE', 'a logo is image/png or image/jpeg', { field: 'content-type' });
  if (data.length === 0) throw new TallyError('TALLY_ERR_INVALID_BODY', 'the logo is empty', { field: 'body' });
  if (data.length > MAX_LOGO_BYTES) throw new TallyError('TALLY_ERR_PAYLOAD_TOO_LARGE', `a logo is at most ${MAX_LOGO_BYTES} bytes`, { field: 'body' });
  if (!data.subarray(0, SIGNATURES[type].length).equals(SIGNATURES[type])) throw new TallyError('TALLY_ERR_INVALID_BODY', `the body is not a ${type === 'image/png' ? 'PNG' : 'JPEG'} image`, { field: 'body' });
  const logo: Logo = { type, data };
  const problem = await read(logo);
  if (problem !== undefined) throw new TallyError('TALLY_ERR_INVALID_BODY', problem, { field: 'body' });
  return logo;
}

export async function setLogo(q: Queryable, tenantId: string, logo: Logo | null): Promise<void> {
  await ensureProfile(q, tenantId);
  await q.query('UPDATE billing_profiles SET logo = $2, logo_type = $3, updated_at = now() WHERE tenant_id = $1', [tenantId, logo?.data ?? null, logo?.type ?? null]);
}
