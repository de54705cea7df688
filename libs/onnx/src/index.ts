/**
 * @packageDocumentation
 * @tumorcast/onnx — the diffusion U-Net of `@tumorcast/unet` on ONNX Runtime
 * (onnxruntime-node, CPU): the ONNX graph is built in TypeScript from the
 * U-Net's config and weights, and {@link createOnnxDenoiser} returns the
 * `(x, t, y?) => eps` function the guided sampler takes.
 */
export { unetToOnnx, UNET_ONNX_IO } from './unet-graph.js';
export type { UNetToOnnxOptions } from './unet-graph.js';
export { OnnxGraph, tensorProto, nodeProto, attributeProto, valueInfoProto, ONNX_FLOAT, ONNX_INT64 } from './onnx-proto.js';
export type { OnnxAttribute, OnnxDim, OnnxModelOptions } from './onnx-proto.js';
export { ProtoWriter, encodeVarint } from './protobuf.js';
export { createOnnxDenoiser } from './denoiser.js';
export type { OnnxDenoiser, OnnxDenoiserOptions } from './denoiser.js';
export { OnnxRuntimeUnavailableError } from './errors.js';
