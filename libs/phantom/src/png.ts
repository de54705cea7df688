/**
 * A minimal PNG encoder (internal): 8-bit grayscale or RGB, adaptive
 * per-row filters (minimum sum of absolute differences), one zlib-deflated IDAT chunk (node:zlib, imported on first use).
 */

let crcTable: Uint32Array | undefined;

function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = (crcTable[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = p > a ? p - a : a - p, pb = p > b ? p - b : b - p, pc = p > c ? p - c : c - p;
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** The filtered byte for PNG filter type `f` (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth). */
function filterByte(f: number, x: number, a: number, b: number, c: number): number {
  switch (f) {
    case 0: return x;
    case 1: return (x - a) & 0xff;
    case 2: return (x - b) & 0xff;
    case 3: return (x - ((a + b) >> 1)) & 0xff;
    default: return (x - paeth(a, b, c)) & 0xff;
  }
}

/**
 * Encodes `pixels` (row-major, `channels` bytes per pixel, 1 = gray, 3 = RGB)
 * as a PNG file.
 */
export async function encodePng(width: number, height: number, channels: 1 | 3, pixels: Uint8Array): Promise<Uint8Array> {
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`'pixels' passed to 'encodePng' must have length ${width * height * channels}, got ${pixels.length}`);
  }
  const { deflateSync } = await import('node:zlib');
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  const cand = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const row = pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : undefined;
    // Adaptive filtering (PNG spec heuristic): the filter with the smallest sum of |signed bytes|.
    let best = 0, bestCost = Infinity;
    for (let f = 0; f < 5; f++) {
      let cost = 0;
      for (let i = 0; i < stride; i++) {
        const a = i >= channels ? (row[i - channels] as number) : 0;
        const b = prev ? (prev[i] as number) : 0;
        const c = prev && i >= channels ? (prev[i - channels] as number) : 0;
        const v = filterByte(f, row[i] as number, a, b, c);
        cost += v < 128 ? v : 256 - v;
      }
      if (cost < bestCost) [best, bestCost] = [f, cost];
    }
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? (row[i - channels] as number) : 0;
      const b = prev ? (prev[i] as number) : 0;
      const c = prev && i >= channels ? (prev[i - channels] as number) : 0;
      cand[i] = filterByte(best, row[i] as number, a, b, c);
    }
    raw[y * (stride + 1)] = best;
    raw.set(cand, y * (stride + 1) + 1);
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : 2;
  const idat = new Uint8Array(deflateSync(raw, { level: 9 }));
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
