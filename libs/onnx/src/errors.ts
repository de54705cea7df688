/**
 * Errors of @tumorcast/onnx.
 */

/**
 * onnxruntime-node could not be loaded (not installed, or its native binding
 * does not load on this platform). The message says how to install it, and
 * that the tfjs denoiser works without it.
 */
export class OnnxRuntimeUnavailableError extends Error {
  /** The module that was asked for. */
  readonly module: string;

  /**
   * @param module - the module specifier that failed to load.
   * @param cause - why it failed.
   */
  constructor(module: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    super(
      `ONNX Runtime ('${module}') could not be loaded: ${why}. Install it with 'npm install onnxruntime-node' `
      + `(offline or without a GPU, set ONNXRUNTIME_NODE_INSTALL=skip so that its install script does not download the CUDA provider), `
      + `or use the tfjs denoiser (denoiser: 'tfjs')`,
      { cause },
    );
    this.name = 'OnnxRuntimeUnavailableError';
    this.module = module;
  }
}
