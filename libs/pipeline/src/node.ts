/**
 * @packageDocumentation
 * `@tumorcast/pipeline/node`: the pipeline on files (Node only): loading the
 * networks, baseline slices and real follow-ups of a data folder, the growth
 * fit from a size CSV, a whole data set into an output folder
 * (`runDataset`: NIfTI, PNG, metrics, `report.html`; resumable and
 * shardable; maps on every core with `MapPool`), and the report and
 * evaluation of a finished folder.
 * Everything of `@tumorcast/pipeline` is re-exported here.
 */
export * from './index.js';
export { loadModels } from './models.js';
export type { ModelPaths, LoadModelsOptions } from './models.js';
export {
  PREDICTION_SPLITS, listPredictionSlices, shardSlices, checkSlices, firstNonFinite, decodedBytes, readSliceFiles, predictionSliceOf, loadPredictionSlice, loadNativeSlice,
} from './slices.js';
export type { PredictionSlice, CheckedSlice, CheckSlicesOptions } from './slices.js';
export { truthCandidates, findTruthFolder, findTruth, loadTruth, checkTruth } from './truth.js';
export type { CheckTruthOptions } from './truth.js';
export { fitGrowthSeries, readSizeSeries, targetsFor, writeGrowthOutputs, MAX_SERIES_CSV_BYTES } from './growth.js';
export type { FitGrowthOptions, SeriesPrediction } from './growth.js';
export { readTargetsJson, resolveTargets, fitSeriesTargets } from './targets.js';
export type { TargetSource, SeriesTargetSource } from './targets.js';
export {
  writeFollowupNifti, writeMapNifti, writePng, channelImages, differenceView, differenceImage, probabilityOverlay, previewGrid, OUTLINE_COLORS,
} from './outputs.js';
export type { DifferenceView } from './outputs.js';
export { renderReport, reportSlice, sliceFlags, growthFigure, tumourBox, trajectoryFigure, guidanceTargets, UNCHANGED_MAX_DIFFERENCE } from './report.js';
export type { ReportSlice, ReportInput, ReportSliceInput, GrowthFigureOptions, BurdenTrajectory, SliceBurdens } from './report.js';
export { sha256File } from '@tumorcast/cli';
export { modelsProvenance, targetsProvenance, sampleHashes, provenanceDifferences, sliceDifferences } from './provenance.js';
export type { RunProvenance, SliceInputs } from './provenance.js';
export {
  RUN_RECORD_FORMAT, RUN_OUTPUTS, readRunRecord, saveRunRecord, readSliceResult, finishedSlices, inspectFolder, mismatchError, clearResults, removeStaleTemps,
} from './outdir.js';
export type { RunRecord, SliceResult, FolderState, FolderHolder } from './outdir.js';
export { runDataset, reportFolder, buildReport } from './run.js';
export type { RunDatasetOptions, RunLocks, RunProgress, ReportFolderOptions } from './run.js';
export { MapPool, resolveMapWorkers, mapWorkerBytes, MAP_WORKER_BASE_BYTES } from './parallel-map.js';
export type { MapPoolOptions, PoolMapOptions, MapWorkersInput, MapWorkersDecision } from './parallel-map.js';
export { evaluateRun } from './evaluate-run.js';
export type { EvaluateRunOptions } from './evaluate-run.js';
export { tuneGuidance, summariseTuneRows, tuneRowsCsv, tuneSummaryCsv, tuneMarkdown, residualMask } from './tune.js';
export type { TuneOptions, TuneTargetSource, TuneRow, TuneSettingSummary, TuneResult } from './tune.js';
export { regressorNoiseAccuracy, regressorNoiseCsv, REGRESSOR_NOISE_EDGES } from './tune-regressor.js';
export type { BurdenImage, RegressorNoiseOptions, RegressorNoiseBucket } from './tune-regressor.js';
export { runCohort } from './cohort.js';
export type { RunCohortOptions, CohortProgress, CohortRunResult } from './cohort.js';
export {
  cohortTable, cohortTableCsv, cohortSlicesCsv, cohortPatientsCsv, cohortGrowthCsv, cohortParamsCsv, cohortScenariosCsv, renderCohortReport, boxPlotSvg, scenarioChartSvg,
  COHORT_IMAGE_METRICS, SCENARIO_DISCLAIMER,
} from './cohort-report.js';
export type { CohortPatientResult, CohortSliceResult, CohortScenarioResult, CohortTableRow, CohortReportInput } from './cohort-report.js';
