import type * as msgpackr from 'msgpackr';
import * as encoder from 'msgpackr/pack';

/**
 * msgpack encoding for tests, from the package's plain JavaScript entry. Importing 'msgpackr'
 * itself would load its native string extractor, which then serves every decoder in the
 * process, the server's included (see ingest/parse.ts): the tests would not decode the way
 * production does. This entry's typings point at a path NodeNext cannot resolve, hence the cast.
 */
const { Packr, pack } = encoder as unknown as Pick<typeof msgpackr, 'Packr' | 'pack'>;
export { Packr, pack };
