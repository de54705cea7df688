/**
 * @packageDocumentation
 * @tumorcast/growth-ode — see the package README.
 */

/** The package's name, for diagnostics. */
export const PACKAGE_NAME = '@tumorcast/growth-ode';
