/**
 * @packageDocumentation
 * The `tumorcast-predict` command-line application, also usable as a library.
 */
export { predictCli, helpText } from './cli.js';
export { runPipeline, reportCommand } from './run.js';
export type { RunOptions, SliceResult, TargetSource } from './run.js';
export type { RunRecord } from './outdir.js';
export type { RunProvenance, SliceInputs } from './provenance.js';
export { predictSlice, DEFAULT_SAMPLE_SETTINGS } from './predict.js';
export type { SampleSettings, SlicePrediction } from './predict.js';
export { loadModels, builtinModelPaths, BUILTIN_MODEL_DIR } from './models.js';
export type { ModelPaths, LoadedModels } from './models.js';
export { fitGrowthSeries, fitGrowthCommand, readSizeSeries, writeGrowthOutputs, targetsFor } from './growth.js';
export { scoreSlice, scoresToCsv, summarise } from './evaluate.js';
export { renderReport } from './report.js';
export { runDemo } from './demo.js';
