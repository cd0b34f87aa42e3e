import { crc32, inflateSync } from 'node:zlib';

/**
 * A logo read through before it is kept, so that no document drawn later can fail on it. The
 * PDF library decodes some PNGs (with alpha, transparency or interlacing) in a zlib callback,
 * where an error cannot be caught but ends the process; and a small file can declare an image
 * of gigabytes. So a PNG is checked here whole: its chunks and their CRCs, a header the library
 * draws (8-bit, not interlaced), at most MAX_SIDE pixels a side, its data inflated within the
 * exact size the header implies and every row's filter valid. A JPEG (embedded as it is, never
 * decoded) needs a frame header with 1, 3 or 4 components within the same sides.
 * Each check answers the reason it refuses, or undefined.
 */
export const MAX_SIDE = 2000;

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Channels of each PNG colour type: grey, RGB, palette, grey + alpha, RGBA. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export function pngProblem(data: Buffer): string | undefined {
  if (!data.subarray(0, 8).equals(SIGNATURE)) return 'not a PNG image';
  let at = 8;
  let header: { width: number; height: number; depth: number; type: number; interlace: number } | undefined;
  const idat: Buffer[] = [];
  let ended = false;
  while (at + 12 <= data.length) {
    const length = data.readUInt32BE(at);
    const type = data.toString('latin1', at + 4, at + 8);
    if (at + 12 + length > data.length) return `the ${type} chunk runs past the end of the file`;
    const body = data.subarray(at + 8, at + 8 + length);
    if (crc32(data.subarray(at + 4, at + 8 + length)) !== data.readUInt32BE(at + 8 + length)) return `the ${type} chunk is damaged (CRC)`;
    if (type === 'IHDR') {
      if (length !== 13) return 'the PNG header is damaged';
      header = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), depth: body[8]!, type: body[9]!, interlace: body[12]! };
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') {
      ended = true;
      break;
    }
    at += 12 + length;
  }
  if (header === undefined || !ended || idat.length === 0) return 'the PNG is incomplete';
  const channels = CHANNELS[header.type];
  if (channels === undefined) return `PNG colour type ${header.type} does not exist`;
  if (header.depth !== 8) return `the PNG has ${header.depth}-bit channels; save it with 8 bits`;
  if (header.interlace !== 0) return 'the PNG is interlaced; save it without interlacing';
  if (header.width < 1 || header.height < 1 || header.width > MAX_SIDE || header.height > MAX_SIDE) return `a logo is at most ${MAX_SIDE}×${MAX_SIDE} pixels; this one is ${header.width}×${header.height}`;
  const stride = header.width * channels;
  const expected = header.height * (stride + 1);
  let pixels: Buffer;
  try {
    pixels = inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch {
    return 'the PNG image data is damaged';
  }
  if (pixels.length !== expected) return 'the PNG image data does not match its size';
  for (let row = 0; row < header.height; row++) if (pixels[row * (stride + 1)]! > 4) return 'the PNG image data is damaged (a row filter)';
  return undefined;
}

export function jpegProblem(data: Buffer): string | undefined {
  if (data[0] !== 0xff || data[1] !== 0xd8) return 'not a JPEG image';
  let at = 2;
  while (at + 4 <= data.length) {
    if (data[at] !== 0xff) return 'the JPEG is damaged';
    const marker = data[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    const length = data.readUInt16BE(at + 2);
    // A start of frame (baseline, extended, progressive, lossless; not DHT, JPG or DAC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (at + 2 + length > data.length || length < 8) return 'the JPEG frame header is damaged';
      const height = data.readUInt16BE(at + 5);
      const width = data.readUInt16BE(at + 7);
      const components = data[at + 9]!;
      if (data[at + 4] !== 8) return 'the JPEG is not 8-bit';
      if (![1, 3, 4].includes(components) || length !== 8 + 3 * components) return `a JPEG of ${components} components cannot be shown`;
      if (width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) return `a logo is at most ${MAX_SIDE}×${MAX_SIDE} pixels; this one is ${width}×${height}`;
      return undefined;
    }
    if (marker === 0xda || marker === 0xd9) break;
    at += 2 + length;
  }
  return 'the JPEG has no frame header';
}
