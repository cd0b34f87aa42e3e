import * as decoder from 'msgpackr/unpack';
import { describe, expect, it } from 'vitest';
import { parseEvents } from '../../ingest/parse.js';

// Alone in its file (each test file runs in its own process): any import of the package's Node
// entry in the process would load the native extractor for every decoder (see ingest/parse.ts).
describe('the msgpack decoder of the ingest path', () => {
  it('decodes strings in JavaScript, so a kept id is not a slice of its request body', () => {
    expect(parseEvents('msgpack', Buffer.from([0x91, 0x81, 0xa2, 0x69, 0x64, 0xa1, 0x61]), 10)).toEqual([expect.objectContaining({ data: { id: 'a' } })]);
    // Exported by the module (a live binding), though this entry's typings leave it out.
    expect((decoder as unknown as { isNativeAccelerationEnabled: boolean }).isNativeAccelerationEnabled).toBe(false);
  });
});
