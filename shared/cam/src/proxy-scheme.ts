// The proxy schemes, importable alone as '@embedcam/cam/proxy-scheme': queue payload schemas and
// the CLI validate against them without loading TF.js or ONNX Runtime.
import { z } from 'zod';

/**
 * `mean` (Normalized Mean Proxy), `single` (medoid), `onehot` (classifier logits: Grad-CAM), and two
 * controls that need no images: `random` (a seeded random unit vector per class) and `uniform`
 * (p = 1: with a bare GAP head without normalisation every channel gets the same weight, so the
 * map is the channel-mean activation).
 */
export const PROXY_SCHEMES = ['mean', 'single', 'onehot', 'random', 'uniform'] as const;
export type ProxyScheme = (typeof PROXY_SCHEMES)[number];
/** Schemes computed from the labels alone (no reference image is embedded). */
export const LABEL_ONLY_SCHEMES: readonly ProxyScheme[] = ['onehot', 'random', 'uniform'];

export const proxySchemeSchema = z.enum(PROXY_SCHEMES);
