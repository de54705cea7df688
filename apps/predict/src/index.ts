/**
 * @packageDocumentation
 * The tumorcast-predict command-line application.
 */

/** The package's name, for diagnostics. */
export const PACKAGE_NAME = '@tumorcast/predict';
