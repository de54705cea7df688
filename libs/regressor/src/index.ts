/**
 * @packageDocumentation
 * @tumorcast/regressor — see the package README.
 */

/** The package's name, for diagnostics. */
export const PACKAGE_NAME = '@tumorcast/regressor';
