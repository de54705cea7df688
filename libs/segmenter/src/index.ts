/**
 * @packageDocumentation
 * @tumorcast/segmenter — see the package README.
 */

/** The package's name, for diagnostics. */
export const PACKAGE_NAME = '@tumorcast/segmenter';
