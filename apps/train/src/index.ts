/**
 * @packageDocumentation
 * The `tumorcast-train` command-line application, also usable as a library.
 */
export { trainCli, helpText, CONFIG_DIR } from './cli.js';
export { saveCheckpoint, loadCheckpoint, latestCheckpoint, checkpointFiles, readCheckpointInfo, stepOfCheckpoint } from './checkpoint.js';
export { trainLoop } from './loop.js';
