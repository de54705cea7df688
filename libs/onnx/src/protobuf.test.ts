import { describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ProtoWriter, encodeVarint } from './protobuf.js';
import { ONNX_FLOAT, OnnxGraph } from './onnx-proto.js';

/** Runs a one-input (`x`, [1, 1, 2, 3]) model in ONNX Runtime in a worker; resolves to its output `y`. */
function runInWorker(model: Uint8Array, x: Float32Array): Promise<{ dims: number[]; data: number[] }> {
  const src = `const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ort);
(async () => {
  const s = await ort.InferenceSession.create(workerData.model);
  const y = (await s.run({ x: new ort.Tensor('float32', workerData.x, [1, 1, 2, 3]) })).y;
  parentPort.postMessage({ dims: Array.from(y.dims), data: Array.from(y.data) });
})().catch((e) => parentPort.postMessage({ error: String(e) }));`;
  const w = new Worker(src, { eval: true, workerData: { ort: createRequire(import.meta.url).resolve('onnxruntime-node'), model, x } });
  return new Promise((resolve, reject) => {
    w.once('message', (m: { dims: number[]; data: number[]; error?: string }) => {
      void w.terminate();
      if (m.error) reject(new Error(m.error));
      else resolve(m);
    });
    w.once('error', reject);
  });
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// Expected bytes: the worked examples of the protocol-buffers encoding guide
// (150 as field 1, "testing" as field 2, packed [3, 270, 86942] as field 4),
// and int64 -1 as ten bytes (two's complement), as protoc writes it.
describe('ProtoWriter (protobuf wire format)', () => {
  it('writes varints as the encoding guide does', () => {
    expect(hex(encodeVarint(1))).toBe('01');
    expect(hex(encodeVarint(150))).toBe('9601');
    expect(hex(encodeVarint(300))).toBe('ac02');
    expect(hex(encodeVarint(-1))).toBe('ffffffffffffffffff01');
    expect(hex(encodeVarint(2n ** 63n))).toBe('80808080808080808001');
  });

  it('writes the guide\'s messages', () => {
    expect(hex(new ProtoWriter().int(1, 150).finish())).toBe('089601');
    expect(hex(new ProtoWriter().string(2, 'testing').finish())).toBe('120774657374696e67');
    expect(hex(new ProtoWriter().packedInts(4, [3, 270, 86942]).finish())).toBe('2206038e029ea705');
    // nested: field 3 holding the first message
    expect(hex(new ProtoWriter().message(3, new ProtoWriter().int(1, 150)).finish())).toBe('1a03089601');
    // float 1.5 as field 2: tag 0x15, then little-endian IEEE 754 (0x3fc00000)
    expect(hex(new ProtoWriter().float(2, 1.5).finish())).toBe('150000c03f');
    expect(hex(new ProtoWriter().packedFloats(7, [1, -2]).finish())).toBe('3a080000803f000000c0');
  });

  it('rejects what it cannot encode', () => {
    expect(() => encodeVarint(0.5)).toThrow(/'value' passed to 'encodeVarint' must be a safe integer, got 0.5/);
    expect(() => encodeVarint(2n ** 64n)).toThrow(/must fit 64 bits/);
    expect(() => new ProtoWriter().int(0, 1)).toThrow(/field number must be in \[1, 2\^29\)/);
  });
});

describe('OnnxGraph', () => {
  it('a hand-built graph runs in ONNX Runtime with the expected values', async () => {
    // y = Conv(x, w, b) * 2 + Softmax(x, axis=-1): checks attributes (ints, negative int), initializers and dims
    const g = new OnnxGraph('check');
    const x = g.input('x', ONNX_FLOAT, ['n', 1, 2, 3]);
    const w = g.initializer('w', [1, 1, 1, 1], Float32Array.of(3));
    const b = g.initializer('b', [1], Float32Array.of(0.5));
    const conv = g.op('Conv', [x, w, b], { kernel_shape: { ints: [1, 1] }, pads: { ints: [0, 0, 0, 0] } });
    const sm = g.op('Softmax', [x], { axis: { i: -1 } });
    const y = g.op('Add', [g.op('Mul', [conv, g.float32([], [2])]), sm]);
    g.output(y, 'y', ONNX_FLOAT, ['n', 1, 2, 3]);
    // in a worker thread: the native binding checks typed arrays against its own realm, not Jest's
    const out = await runInWorker(g.toModel(), Float32Array.of(0, 1, 2, -1, 0, 1));
    const xs = [0, 1, 2, -1, 0, 1];
    const want: number[] = [];
    for (let r = 0; r < 2; r++) {
      const row = xs.slice(3 * r, 3 * r + 3);
      const z = row.reduce((s, v) => s + Math.exp(v), 0);
      for (const v of row) want.push((3 * v + 0.5) * 2 + Math.exp(v) / z);
    }
    expect(out.dims).toEqual([1, 1, 2, 3]);
    out.data.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
  });

  it('names values uniquely and shares constants', () => {
    const g = new OnnxGraph('names');
    expect(g.fresh('a')).toBe('a');
    expect(g.fresh('a')).not.toBe('a');
    expect(g.int64([0, -1])).toBe(g.int64([0, -1]));
    expect(g.float32([1], [2])).toBe(g.float32([1], [2]));
    expect(() => g.input('a', ONNX_FLOAT, [1])).toThrow(/ONNX value 'a' is defined twice/);
    expect(() => g.initializer('w', [2, 2], new Float32Array(3))).toThrow(/tensor 'w': dims \[2,2\] hold 4 values, got 3/);
  });
});
