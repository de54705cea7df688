/**
 * The ONNX messages a float32 inference graph needs (ModelProto, GraphProto,
 * NodeProto, AttributeProto, TensorProto, ValueInfoProto), with the field
 * numbers of onnx.proto, and a small graph builder on top.
 */
import { ProtoWriter } from './protobuf.js';

/** ONNX `TensorProto.DataType` values used here. */
export const ONNX_FLOAT = 1;
/** ONNX `TensorProto.DataType` of int64. */
export const ONNX_INT64 = 7;

/** An attribute value: an int, a float, a string, or a list of ints or floats. */
export type OnnxAttribute = { i: number } | { f: number } | { s: string } | { ints: readonly number[] } | { floats: readonly number[] };

/** A dimension of a graph input or output: a size, or a symbolic name for a size chosen at run time. */
export type OnnxDim = number | string;

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_FLOATS = 6;
const ATTR_INTS = 7;

/** Little-endian bytes of a typed array (a view, no copy, on little-endian hosts). */
function rawBytes(data: Float32Array | BigInt64Array): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] === 1) return view;
  // big-endian host: swap each element's bytes (ONNX raw_data is little-endian)
  const size = data.BYTES_PER_ELEMENT;
  const out = new Uint8Array(view.length);
  for (let i = 0; i < view.length; i += size) for (let j = 0; j < size; j++) out[i + j] = view[i + size - 1 - j]!;
  return out;
}

/** A `TensorProto` with `raw_data`. */
export function tensorProto(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): ProtoWriter {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`tensor '${name}': dims [${dims}] hold ${count} values, got ${data.length}`);
  const t = new ProtoWriter();
  for (const d of dims) t.int(1, d); // dims (unpacked is valid for repeated int64)
  t.int(2, data instanceof Float32Array ? ONNX_FLOAT : ONNX_INT64);
  t.string(8, name);
  t.bytes(9, rawBytes(data));
  return t;
}

/** An `AttributeProto`. */
export function attributeProto(name: string, value: OnnxAttribute): ProtoWriter {
  const a = new ProtoWriter().string(1, name);
  if ('i' in value) a.int(3, value.i).int(20, ATTR_INT);
  else if ('f' in value) a.float(2, value.f).int(20, ATTR_FLOAT);
  else if ('s' in value) a.string(4, value.s).int(20, ATTR_STRING);
  else if ('ints' in value) a.packedInts(8, value.ints).int(20, ATTR_INTS);
  else a.packedFloats(7, value.floats).int(20, ATTR_FLOATS);
  return a;
}

/** A `NodeProto`. */
export function nodeProto(opType: string, inputs: readonly string[], outputs: readonly string[], name: string, attributes: Readonly<Record<string, OnnxAttribute>> = {}): ProtoWriter {
  const n = new ProtoWriter();
  for (const i of inputs) n.string(1, i);
  for (const o of outputs) n.string(2, o);
  n.string(3, name).string(4, opType);
  for (const [k, v] of Object.entries(attributes)) n.message(5, attributeProto(k, v));
  return n;
}

/** A `ValueInfoProto` of a tensor (element type and shape). */
export function valueInfoProto(name: string, elemType: number, dims: readonly OnnxDim[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, elemType).message(2, shape);
  return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
}

/** Options of {@link OnnxGraph.toModel}. */
export interface OnnxModelOptions {
  /**
   * Default-domain opset version.
   * @defaultValue 17
   */
  opset?: number;
  /**
   * IR version of the file.
   * @defaultValue 8 (the one that came with opset 17)
   */
  irVersion?: number;
  /**
   * Producer name written into the file.
   * @defaultValue '@tumorcast/onnx'
   */
  producer?: string;
}

/**
 * Builds an ONNX graph node by node: unique value names, deduplicated
 * constants, initializers by reference (no copy until {@link OnnxGraph.toModel}).
 */
export class OnnxGraph {
  private readonly nodes: ProtoWriter[] = [];
  private readonly initializers: ProtoWriter[] = [];
  private readonly inputs: ProtoWriter[] = [];
  private readonly outputs: ProtoWriter[] = [];
  private readonly constants = new Map<string, string>();
  private readonly names = new Set<string>();
  private counter = 0;

  /** @param name - the graph's name. */
  constructor(readonly name: string) {}

  /** Number of nodes so far. */
  get nodeCount(): number {
    return this.nodes.length;
  }

  /** A value name not used yet, from `hint`. */
  fresh(hint: string): string {
    let n = hint;
    while (this.names.has(n)) n = `${hint}_${++this.counter}`;
    this.names.add(n);
    return n;
  }

  /** Declares a graph input. */
  input(name: string, elemType: number, dims: readonly OnnxDim[]): string {
    if (this.names.has(name)) throw new Error(`ONNX value '${name}' is defined twice`);
    this.names.add(name);
    this.inputs.push(valueInfoProto(name, elemType, dims));
    return name;
  }

  /** Declares `value` a graph output under the name `name` (through an Identity node). */
  output(value: string, name: string, elemType: number, dims: readonly OnnxDim[]): void {
    if (this.names.has(name)) throw new Error(`ONNX value '${name}' is defined twice`);
    this.names.add(name);
    this.nodes.push(nodeProto('Identity', [value], [name], `${name}_identity`));
    this.outputs.push(valueInfoProto(name, elemType, dims));
  }

  /** Adds an initializer (a weight) and returns its name. */
  initializer(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): string {
    const n = this.fresh(name);
    this.initializers.push(tensorProto(n, dims, data));
    return n;
  }

  /** An int64 constant (1-D), shared between uses. */
  int64(values: readonly number[]): string {
    const key = `i64:${values.join(',')}`;
    let n = this.constants.get(key);
    if (!n) {
      n = this.initializer(`const_i64_${values.join('_').replaceAll('-', 'm')}`, [values.length], BigInt64Array.from(values, (v) => BigInt(v)));
      this.constants.set(key, n);
    }
    return n;
  }

  /** A float32 constant, shared between uses with the same dims and values. */
  float32(dims: readonly number[], values: ArrayLike<number>): string {
    const data = Float32Array.from(values);
    const key = `f32:${dims.join('x')}:${Array.from(data).join(',')}`;
    let n = this.constants.get(key);
    if (!n) {
      n = this.initializer('const_f32', dims, data);
      this.constants.set(key, n);
    }
    return n;
  }

  /** Adds a node with `outputs` results and returns their names. */
  opN(opType: string, inputs: readonly string[], outputs: number, attributes: Readonly<Record<string, OnnxAttribute>> = {}, hint = opType.toLowerCase()): string[] {
    const outs = Array.from({ length: outputs }, (_, i) => this.fresh(outputs === 1 ? hint : `${hint}_${i}`));
    this.nodes.push(nodeProto(opType, inputs, outs, this.fresh(`${hint}_node`), attributes));
    return outs;
  }

  /** Adds a node with one result and returns its name. */
  op(opType: string, inputs: readonly string[], attributes: Readonly<Record<string, OnnxAttribute>> = {}, hint?: string): string {
    return this.opN(opType, inputs, 1, attributes, hint)[0]!;
  }

  /** The `ModelProto` bytes of the graph. */
  toModel(options: OnnxModelOptions = {}): Uint8Array {
    const g = new ProtoWriter();
    for (const n of this.nodes) g.message(1, n);
    g.string(2, this.name);
    for (const t of this.initializers) g.message(5, t);
    for (const i of this.inputs) g.message(11, i);
    for (const o of this.outputs) g.message(12, o);
    const m = new ProtoWriter()
      .int(1, options.irVersion ?? 8)
      .string(2, options.producer ?? '@tumorcast/onnx')
      .message(7, g)
      .message(8, new ProtoWriter().string(1, '').int(2, options.opset ?? 17));
    return m.finish();
  }
}
