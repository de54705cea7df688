/**
 * @packageDocumentation
 * @tumorcast/cli — plumbing shared by the tumorcast command-line apps.
 */
export { CliError, ExitCode, runMain, describeFsError, signalExitCode } from './errors.js';
export { writeFileAtomic, writeFileAtomicSync, appendLine, tempPathFor, removeStaleTempFiles, readTextFileChecked, sha256File } from './files.js';
export type { ReadTextFileOptions, WriteFileAtomicOptions } from './files.js';
export { lockFolder, readLockInfo, lockHolderAlive, FolderLockedError } from './lock.js';
export type { FolderLock, LockFolderOptions, LockInfo } from './lock.js';
export { Progress } from './progress.js';
export type { ProgressOptions } from './progress.js';
export { encodePng, encodePngUint8, decodePng, overlay, tileImages } from './png.js';
export type { PngImage, Rgb } from './png.js';
export { parseArgs, flagKey, unexpectedArgumentError, resolveConfig, readYamlConfig, describeSchema, defineConfigSchema, MAX_CONFIG_BYTES } from './config.js';
export type { ConfigField, ConfigFieldType, ConfigOf, ConfigSchema, ConfigSources, ConfigValue, OptionalKeys, ParsedArgs } from './config.js';
export { lineChartSvg } from './svg.js';
export type { ChartSeries, LineChartOptions } from './svg.js';
export {
  DIVERGING_BLUE_RED, SEQUENTIAL_YELLOW_RED, colorAt, colorize, overlayColormap, drawOutline, maskOutlinePath, colorBarSvg, niceCeil,
} from './colormap.js';
export type { ColorStops, ColorizeOptions, OverlayColormapOptions, ColorBarOptions } from './colormap.js';
