import { errors } from './errors.js';
import type { ListResult, SearchResult } from './objects.js';
import { int, optional, str } from './params.js';

/** The pagination parameters of Stripe's list endpoints. */
export const listParams = {
  limit: optional(int({ min: 1, max: 100 })),
  starting_after: optional(str()),
  ending_before: optional(str()),
};

/** The pagination parameters of Stripe's search endpoints. */
export const searchParams = {
  query: str({ max: 5000 }),
  limit: optional(int({ min: 1, max: 100 })),
  page: optional(str()),
};

/**
 * One page of a list. `all` is in list order (newest first); `starting_after` pages towards
 * older objects, `ending_before` towards newer ones, as in Stripe.
 */
export function listPage<T extends { id: string }>(
  all: T[],
  p: { limit: number | undefined; starting_after: string | undefined; ending_before: string | undefined },
  url: string,
  kind: string,
): ListResult<T> {
  const limit = p.limit ?? 10;
  if (p.starting_after !== undefined && p.ending_before !== undefined) throw errors.exclusive(['starting_after', 'ending_before']);
  if (p.starting_after !== undefined) {
    const i = all.findIndex((o) => o.id === p.starting_after);
    if (i === -1) throw errors.resourceMissing(kind, p.starting_after, 'starting_after');
    const rest = all.slice(i + 1);
    return { object: 'list', data: rest.slice(0, limit), has_more: rest.length > limit, url };
  }
  if (p.ending_before !== undefined) {
    const i = all.findIndex((o) => o.id === p.ending_before);
    if (i === -1) throw errors.resourceMissing(kind, p.ending_before, 'ending_before');
    const before = all.slice(0, i);
    return { object: 'list', data: before.slice(Math.max(0, before.length - limit)), has_more: before.length > limit, url };
  }
  return { object: 'list', data: all.slice(0, limit), has_more: all.length > limit, url };
}

/** One page of search results; `page` is the opaque cursor a previous page returned. */
export function searchPage<T>(matches: T[], p: { limit: number | undefined; page: string | undefined }, url: string): SearchResult<T> {
  const limit = p.limit ?? 10;
  let offset = 0;
  if (p.page !== undefined) {
    const m = /^page_(\d+)$/.exec(p.page);
    if (m === null) throw errors.invalidRequest(`Invalid page: ${p.page}`, 'page');
    offset = Number(m[1]);
  }
  const data = matches.slice(offset, offset + limit);
  const more = matches.length > offset + limit;
  return { object: 'search_result', data, has_more: more, next_page: more ? `page_${offset + limit}` : null, url };
}
