/**
 * @packageDocumentation
 * @tumorcast/diffusion — see the package README.
 */

/** The package's name, for diagnostics. */
export const PACKAGE_NAME = '@tumorcast/diffusion';
