import type { Box } from './box.js';

/** Side fractions of the centred-box baseline: 0.05, 0.10, …, 1.00 (written exactly, no float drift). */
export const CENTRED_SIZES: readonly number[] = Object.freeze(
  Array.from({ length: 20 }, (_, k) => ((k + 1) * 5) / 100),
);

/**
 * The box of side fraction `s` centred in a `width × height` image: `s·W × s·H`. It is the
 * "no-model" localiser every WSOL report should beat (Choe et al. 2020 report it as a baseline).
 */
export function centredBox(s: number, width: number, height: number): Box {
  if (!(s > 0 && s <= 1)) throw new RangeError(`centredBox: size fraction must be in (0, 1], got ${s}`);
  return [(width * (1 - s)) / 2, (height * (1 - s)) / 2, width * s, height * s];
}

/** The box of the whole image: what a uniform heatmap predicts at every threshold. */
export function wholeImageBox(width: number, height: number): Box {
  return [0, 0, width, height];
}
