import { isUtf8 } from 'node:buffer';

/**
 * The first extension type in a body other than the timestamp (-1), or undefined. msgpackr
 * decodes its own extensions on every unpacker: records (0x72), whose values follow outside the
 * extension and hide strings from the UTF-8 reader below; references (0x69, 0x70), with which a
 * few hundred bytes describe an object of millions; Sets, RegExps, typed arrays, `undefined`,
 * none of which an event can store. So they are refused before msgpackr reads the body. Throws
 * on bytes that are not msgpack.
 */
export function foreignExtension(body: Uint8Array): number | undefined {
  // Runs on every msgpack body before it is decoded, so it walks the bytes in one loop, with no
  // object per value (the reader below makes one per value; it runs only when asked).
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const end = body.byteLength;
  let pos = 0;
  let found: number | undefined;
  const u8 = (): number => {
    if (pos >= end) throw new Error('not msgpack: truncated');
    return body[pos++]!;
  };
  const u16 = (): number => {
    pos += 2;
    return view.getUint16(pos - 2);
  };
  const u32 = (): number => {
    pos += 4;
    return view.getUint32(pos - 4);
  };
  const extension = (n: number): void => {
    const type = view.getInt8(pos);
    if (type !== -1) found ??= type;
    pos += 1 + n;
  };
  for (let pending = 1; pending > 0; pending--) {
    const b = u8();
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) continue;
    if (b <= 0x8f) pending += (b & 0x0f) * 2;
    else if (b <= 0x9f) pending += b & 0x0f;
    else if (b <= 0xbf) pos += b & 0x1f;
    else {
      switch (b) {
        case 0xc4: case 0xd9: pos += u8(); break;
        case 0xc5: case 0xda: pos += u16(); break;
        case 0xc6: case 0xdb: pos += u32(); break;
        case 0xc7: extension(u8()); break;
        case 0xc8: extension(u16()); break;
        case 0xc9: extension(u32()); break;
        case 0xca: pos += 4; break;
        case 0xcb: pos += 8; break;
        case 0xcc: case 0xd0: pos += 1; break;
        case 0xcd: case 0xd1: pos += 2; break;
        case 0xce: case 0xd2: pos += 4; break;
        case 0xcf: case 0xd3: pos += 8; break;
        case 0xd4: extension(1); break;
        case 0xd5: extension(2); break;
        case 0xd6: extension(4); break;
        case 0xd7: extension(8); break;
        case 0xd8: extension(16); break;
        case 0xdc: pending += u16(); break;
        case 0xdd: pending += u32(); break;
        case 0xde: pending += u16() * 2; break;
        case 0xdf: pending += u32() * 2; break;
        default: throw new Error(`not msgpack: byte 0x${b.toString(16)}`);
      }
    }
    if (pos > end) throw new Error('not msgpack: truncated');
  }
  return found;
}

/**
 * msgpack strings are meant to be UTF-8 but nothing enforces it, and msgpackr decodes bytes
 * that are not UTF-8 into U+FFFD: `"x\xff"` and `"x\xfe"` would both arrive as `"x\ufffd"` and
 * dedup would take one for a resend of the other. This reads a body msgpackr already decoded a
 * second time, looking only at strings, and says which events hold one that is not UTF-8.
 *
 * The result maps an event's position (its index in a top-level array, 0 for a single map) to
 * the top-level field under which the bad string sits (a key, a value, or anything nested in
 * it). Extension payloads are opaque and skipped (a body holds none but timestamps: see
 * `foreignExtension`).
 */
export function invalidUtf8Fields(body: Uint8Array): Map<number, string> {
  const bad = new Map<number, string>();
  const reader = new Reader(body);
  const top = reader.head();
  if (top.kind === 'array') {
    for (let i = 0; i < top.n; i++) scanEvent(reader, reader.head(), i, bad);
  } else {
    scanEvent(reader, top, 0, bad);
  }
  return bad;
}

function scanEvent(reader: Reader, head: Head, index: number, bad: Map<number, string>): void {
  if (head.kind !== 'map') {
    if (!reader.skipRest(head)) bad.set(index, '');
    return;
  }
  for (let i = 0; i < head.n; i++) {
    const keyHead = reader.head();
    const key = keyHead.kind === 'str' ? reader.text(keyHead.n) : undefined;
    const keyOk = keyHead.kind === 'str' ? key !== undefined : reader.skipRest(keyHead);
    const valueOk = reader.skipRest(reader.head());
    if ((!keyOk || !valueOk) && !bad.has(index)) bad.set(index, key ?? '');
  }
}

type Head = { kind: 'str' | 'array' | 'map' | 'skip'; n: number };

class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Reads one value's header; `skip` values have `n` bytes of payload left to pass over. */
  head(): Head {
    const b = this.u8();
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) return { kind: 'skip', n: 0 };
    if (b <= 0x8f) return { kind: 'map', n: b & 0x0f };
    if (b <= 0x9f) return { kind: 'array', n: b & 0x0f };
    if (b <= 0xbf) return { kind: 'str', n: b & 0x1f };
    switch (b) {
      case 0xc4: return { kind: 'skip', n: this.u8() };
      case 0xc5: return { kind: 'skip', n: this.u16() };
      case 0xc6: return { kind: 'skip', n: this.u32() };
      case 0xc7: return { kind: 'skip', n: this.u8() + 1 };
      case 0xc8: return { kind: 'skip', n: this.u16() + 1 };
      case 0xc9: return { kind: 'skip', n: this.u32() + 1 };
      case 0xca: return { kind: 'skip', n: 4 };
      case 0xcb: return { kind: 'skip', n: 8 };
      case 0xcc: case 0xd0: return { kind: 'skip', n: 1 };
      case 0xcd: case 0xd1: return { kind: 'skip', n: 2 };
      case 0xce: case 0xd2: return { kind: 'skip', n: 4 };
      case 0xcf: case 0xd3: return { kind: 'skip', n: 8 };
      case 0xd4: return { kind: 'skip', n: 2 };
      case 0xd5: return { kind: 'skip', n: 3 };
      case 0xd6: return { kind: 'skip', n: 5 };
      case 0xd7: return { kind: 'skip', n: 9 };
      case 0xd8: return { kind: 'skip', n: 17 };
      case 0xd9: return { kind: 'str', n: this.u8() };
      case 0xda: return { kind: 'str', n: this.u16() };
      case 0xdb: return { kind: 'str', n: this.u32() };
      case 0xdc: return { kind: 'array', n: this.u16() };
      case 0xdd: return { kind: 'array', n: this.u32() };
      case 0xde: return { kind: 'map', n: this.u16() };
      case 0xdf: return { kind: 'map', n: this.u32() };
      default: throw new Error(`not msgpack: byte 0x${b.toString(16)}`);
    }
  }

  /** The string of `n` bytes at the cursor, or undefined when they are not UTF-8. */
  text(n: number): string | undefined {
    const bytes = this.take(n);
    return isUtf8(bytes) ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8') : undefined;
  }

  /** Passes over the rest of a value whose header was read; false if a string in it is not UTF-8. */
  skipRest(head: Head): boolean {
    let ok = true;
    // Iterative, so nesting depth costs no stack.
    let pending = 0;
    let current = head;
    for (;;) {
      if (current.kind === 'str') ok = isUtf8(this.take(current.n)) && ok;
      else if (current.kind === 'skip') this.pass(current.n);
      else pending += current.kind === 'map' ? current.n * 2 : current.n;
      if (pending === 0) return ok;
      pending--;
      current = this.head();
    }
  }

  private take(n: number): Uint8Array {
    if (this.pos + n > this.buf.byteLength) throw new Error('not msgpack: truncated');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Moves past `n` bytes (no view of them is made: this runs for every value of a body). */
  private pass(n: number): void {
    if (this.pos + n > this.buf.byteLength) throw new Error('not msgpack: truncated');
    this.pos += n;
  }

  private u8(): number {
    if (this.pos >= this.buf.byteLength) throw new Error('not msgpack: truncated');
    return this.buf[this.pos++]!;
  }

  private u16(): number {
    const at = this.pos;
    this.pass(2);
    return this.view.getUint16(at);
  }

  private u32(): number {
    const at = this.pos;
    this.pass(4);
    return this.view.getUint32(at);
  }
}
