/**
 * @packageDocumentation
 * The `tumorcast-predict` command-line application. The method itself is
 * the library `@tumorcast/pipeline`; this package adds the command line:
 * options and presets, locks on output folders, progress bars, messages and
 * exit codes, the shipped models and the demo.
 */
export { predictCli, helpText, PREDICT_PRESETS } from './cli.js';
export type { PredictPreset } from './cli.js';
export { runPipeline, reportCommand } from './run.js';
export type { RunOptions } from './run.js';
export { builtinModelPaths, BUILTIN_MODEL_DIR } from './models.js';
export { fitGrowthCommand } from './growth.js';
export { runDemo, demoPlan, DEMO_SAMPLE_SETTINGS, DEMO_SECONDS_PER_IMAGE_STEP } from './demo.js';
export type { DemoOptions } from './demo.js';
