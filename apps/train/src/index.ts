/**
 * @packageDocumentation
 * The `tumorcast-train` command-line application. The training itself is
 * @tumorcast/training; the checkpoint and loop functions this package
 * exported before it existed are re-exported from there.
 */
export { trainCli, helpText, CONFIG_DIR, camelKeys } from './cli.js';
export { saveCheckpoint, loadCheckpoint, latestCheckpoint, checkpointFiles, readCheckpointInfo, stepOfCheckpoint, trainLoop } from '@tumorcast/training';
