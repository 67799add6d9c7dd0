/**
 * An axis-aligned box `[x, y, width, height]` in pixels, top-left origin (CUB's
 * `bounding_boxes.txt` convention). Boxes are continuous intervals `[x, x+w] × [y, y+h]`: the
 * area is `w·h` (no "+1" pixel convention), so scaling a box scales its area exactly.
 */
export type Box = [x: number, y: number, width: number, height: number];

/** A box that cannot be evaluated against its image; the message names the box, the image and the fault. */
export class BoxError extends Error {
  constructor(
    message: string,
    readonly box: readonly number[],
    readonly imageWidth: number,
    readonly imageHeight: number,
  ) {
    super(message);
    this.name = 'BoxError';
  }
}

/**
 * How far a box may overshoot the image and still be clipped rather than rejected: 1 px, or a
 * tenth of the image side when larger. Real CUB annotations overshoot by up to 32 px on a 500 px
 * image (9 of the 1,701 subset boxes overshoot at all); evaluation code clips those, while a box
 * further out means wrong coordinates.
 */
export const BOX_TOLERANCE_PX = 1;
export const BOX_TOLERANCE_FRACTION = 0.1;

export function boxArea(b: Box): number {
  return Math.max(0, b[2]) * Math.max(0, b[3]);
}

/** Area of the intersection of two boxes (0 when they are disjoint or only touch). */
export function intersectionArea(a: Box, b: Box): number {
  const w = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Intersection over union; 0 when the union is empty (two degenerate boxes). */
export function iou(a: Box, b: Box): number {
  const inter = intersectionArea(a, b);
  const union = boxArea(a) + boxArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** True when the point lies in the closed box `[x, x+w] × [y, y+h]`. */
export function boxContains(b: Box, px: number, py: number): boolean {
  return px >= b[0] && px <= b[0] + b[2] && py >= b[1] && py <= b[1] + b[3];
}

/** Rescale a box from one image size to another (e.g. original image → 224×224 heatmap). */
export function scaleBox(box: Box, fromW: number, fromH: number, toW: number, toH: number): Box {
  for (const [name, v] of [
    ['fromW', fromW],
    ['fromH', fromH],
    ['toW', toW],
    ['toH', toH],
  ] as const) {
    if (!Number.isFinite(v) || v <= 0) {
      throw new RangeError(`scaleBox: ${name} must be a positive number, got ${v}`);
    }
  }
  const sx = toW / fromW;
  const sy = toH / fromH;
  return [box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy];
}

function describe(box: readonly number[], w: number, h: number): string {
  return `box [${box.join(', ')}] (x, y, width, height) in image ${w}×${h}`;
}

/**
 * Check a box against its image and return it clipped to the image. Throws {@link BoxError} for
 * non-finite values, a non-positive size, or a box that leaves the image by more than
 * {@link BOX_TOLERANCE_PX} on any side. Within the tolerance the box is clipped.
 */
export function validateBox(box: readonly number[], imageW: number, imageH: number): Box {
  if (!Number.isFinite(imageW) || !Number.isFinite(imageH) || imageW <= 0 || imageH <= 0) {
    throw new BoxError(`invalid image size for ${describe(box, imageW, imageH)}`, box, imageW, imageH);
  }
  if (box.length !== 4) {
    throw new BoxError(
      `${describe(box, imageW, imageH)}: expected 4 numbers, got ${box.length}`,
      box,
      imageW,
      imageH,
    );
  }
  const [x, y, w, h] = box;
  if (![x, y, w, h].every(Number.isFinite)) {
    throw new BoxError(`${describe(box, imageW, imageH)}: values must be finite`, box, imageW, imageH);
  }
  if (w <= 0 || h <= 0) {
    throw new BoxError(
      `${describe(box, imageW, imageH)}: width and height must be positive`,
      box,
      imageW,
      imageH,
    );
  }
  const tolX = Math.max(BOX_TOLERANCE_PX, BOX_TOLERANCE_FRACTION * imageW);
  const tolY = Math.max(BOX_TOLERANCE_PX, BOX_TOLERANCE_FRACTION * imageH);
  const faults: string[] = [];
  if (x < -tolX) faults.push(`left edge ${x} < 0`);
  if (y < -tolY) faults.push(`top edge ${y} < 0`);
  if (x + w > imageW + tolX) faults.push(`right edge ${x + w} > image width ${imageW}`);
  if (y + h > imageH + tolY) faults.push(`bottom edge ${y + h} > image height ${imageH}`);
  if (faults.length > 0) {
    throw new BoxError(
      `${describe(box, imageW, imageH)} is not inside the image (tolerance ${tolX.toFixed(1)}×${tolY.toFixed(1)}px); check the box's coordinates: ${faults.join('; ')}`,
      box,
      imageW,
      imageH,
    );
  }
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const x1 = Math.min(imageW, x + w);
  const y1 = Math.min(imageH, y + h);
  if (x1 <= x0 || y1 <= y0) {
    // Only reachable for a sliver lying entirely in the tolerance margin.
    throw new BoxError(
      `${describe(box, imageW, imageH)}: nothing of the box is left inside the image`,
      box,
      imageW,
      imageH,
    );
  }
  return [x0, y0, x1 - x0, y1 - y0];
}
