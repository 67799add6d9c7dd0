/** A model the CAM cannot work with (unsupported layer, missing tensor, wrong shape…). */
export class UnsupportedModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedModelError';
  }
}
