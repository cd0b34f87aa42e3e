import { crc32, deflateSync } from 'node:zlib';

/** A small valid PNG (RGB, one colour), as a logo upload: `width` × `height` pixels. */
export function solidPng(width: number, height: number, rgb: readonly [number, number, number]): Buffer {
  // 8 bits per channel, RGB, each row with filter byte 0.
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => [...rgb]).flat())]);
  return craftedPng({ width, height, colorType: 2, idat: deflateSync(Buffer.concat(Array.from({ length: height }, () => row))) });
}

/** A PNG made of the given header fields and image data, valid chunk by chunk (CRCs right) whatever the data says. */
export function craftedPng(o: { width: number; height: number; depth?: number; colorType?: number; interlace?: number; idat: Buffer }): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(o.width, 0);
  header.writeUInt32BE(o.height, 4);
  header.set([o.depth ?? 8, o.colorType ?? 6, 0, 0, o.interlace ?? 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', o.idat), chunk('IEND', Buffer.alloc(0))]);
}
