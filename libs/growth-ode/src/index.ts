/**
 * @packageDocumentation
 * @tumorcast/growth-ode — mechanistic tumour growth ODEs with radiotherapy:
 * a Dormand-Prince solver, the paper's two-phase model and classic LQ models,
 * bounded least-squares fitting, bootstrap uncertainty, CSV/JSON I/O and SVG plots.
 */
export { solveIvp, OdeError } from './ode.js';
export type { OdeRhs, StateJump, SolveIvpOptions, OdeSolution, OdeErrorKind } from './ode.js';
export { simulate, standardSchedule, resolveRtStart, RT_MAX_DAYS_AFTER_LAST, RT_MAX_DAYS_BEFORE_FIRST } from './model.js';
export type { GrowthModel, GrowthContext, ParamRecord, RtFraction, ParameterDefaults, ShortSeriesFallback, SimulateOptions, SimulateForm } from './model.js';
export { twoPhaseRtModel, TWO_PHASE_PAPER_BOUNDS, TWO_PHASE_NOISE_FACTOR, TWO_PHASE_UPPER_WIDENING, TWO_PHASE_SHORT_SERIES } from './two-phase.js';
export type { TwoPhaseParams } from './two-phase.js';
export {
  createExponentialLqModel,
  createLogisticLqModel,
  createGompertzLqModel,
  exponentialLqModel,
  logisticLqModel,
  gompertzLqModel,
} from './lq-models.js';
export type { ExponentialLqParams, SaturatingLqParams, LqModelOptions } from './lq-models.js';
export { leastSquaresBounded } from './lm.js';
export type { LeastSquaresOptions, LeastSquaresResult, LeastSquaresStatus } from './lm.js';
export { fitGrowth, bootstrapGrowth, relativeChange, TooFewPointsError } from './fit.js';
export type {
  GrowthSeries,
  FitGrowthOptions,
  FitMetrics,
  HeldOutResult,
  FitConvergence,
  FitResult,
  BootstrapGrowthOptions,
  ParamSummary,
  BootstrapResult,
  BootstrapRefinement,
  GrowthPrediction,
  FitObjective,
  ShortSeriesMode,
  BootstrapNoise,
} from './fit.js';
export { parseSeriesCsv, readSeriesCsv, SERIES_CSV_COLUMNS, resultToJson, resultsToCsv, paramsToCsv, writeResultsJson, writeResultsCsv, writeParamsCsv } from './io.js';
export type { CsvSeries, ReadSeriesCsvOptions, GrowthResult } from './io.js';
export { splitSeries, fitPatient, simulateScenario, predictScenarios, parseScenario } from './cohort-fit.js';
export type {
  SeriesSplit, SeriesSplitIndices, PatientSeries, FitPatientOptions, PatientFit, TreatmentScenario, ScenarioPrediction, PredictScenariosOptions,
} from './cohort-fit.js';
export { plotGrowth } from './plot.js';
export type { PlotGrowthOptions, PlotMarker, PlotPoint } from './plot.js';
export { exampleSeries, EXAMPLE_TRUTH } from './example.js';
export type { ExampleSeries } from './example.js';
