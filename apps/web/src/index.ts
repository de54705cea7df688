/**
 * @packageDocumentation
 * `@tumorcast/web`: the tumorcast method in the browser (a Vite app; `npm
 * run web` builds and serves it). This barrel lists the app's browser
 * modules, each usable on its own: recognising the dropped files, loading
 * the baseline slice, the growth fit, the networks from bytes, the compute
 * backend, the phantom patient and the outputs.
 */
export { kindOfFile, sortInputFiles, missingModalities } from './layout.js';
export type { InputKind, SortedInputs } from './layout.js';
export { loadBaselineSlice, InputFileError } from './slice.js';
export type { BaselineSlice, NamedBytes } from './slice.js';
export { parseSizeCsv, fitGrowth, growthBetween, growthSvg, GrowthInputError } from './growth.js';
export type { SizeSeries, FitGrowthOptions, GrowthFit, GrowthPrediction } from './growth.js';
export { networksFromWeights, WeightsFileError } from './models.js';
export type { WeightsFile, WeightsFiles } from './models.js';
export { selectBackend, parseBackendChoice, BACKEND_ORDER } from './backend.js';
export type { BrowserBackend, BackendChoice, BackendSelection, WasmPaths } from './backend.js';
export { phantomInputs, PHANTOM_DAYS } from './phantom.js';
export type { PhantomInputs } from './phantom.js';
export { planeToNifti, outputVolumes, numbersToCsv, numbersToJson, CHANNELS } from './outputs.js';
export type { PredictionImages, PredictionNumbers } from './outputs.js';
export type { ToWorker, FromWorker, WorkerResult, WorkerSlice } from './protocol.js';
