import pkg from '../../../package.json' with { type: 'json' };

/** The version of embedcam (the root package; the published package carries the same). */
export const VERSION: string = pkg.version;
