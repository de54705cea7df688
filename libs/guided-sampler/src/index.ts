/**
 * @packageDocumentation
 * @tumorcast/guided-sampler — see the package README.
 */

/** The package's name, for diagnostics. */
export const PACKAGE_NAME = '@tumorcast/guided-sampler';
