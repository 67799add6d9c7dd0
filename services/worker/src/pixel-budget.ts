// Memory is bounded per batch of decoded images, not only per image: a worker holds at most
// `capacity` decoded pixels at once (the images being decoded, explained and rendered on its
// compute threads), so a burst of near-limit images queues instead of multiplying memory.

interface Waiter {
  pixels: number;
  resolve: () => void;
}

export class PixelBudget {
  private used = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`PixelBudget: capacity must be ≥ 1, got ${capacity}`);
  }

  /** Pixels held now (tests, stats). */
  get inUse(): number {
    return this.used;
  }

  /**
   * Waits until `pixels` fit, first come first served, and resolves with the function that gives
   * them back. An image larger than the whole budget runs alone (it holds all of it).
   */
  async acquire(pixels: number): Promise<() => void> {
    const want = Math.max(0, Math.min(pixels, this.capacity));
    if (this.waiters.length === 0 && this.used + want <= this.capacity) this.used += want;
    else await new Promise<void>((resolve) => this.waiters.push({ pixels: want, resolve }));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= want;
      this.wake();
    };
  }

  /** Admits waiters in order while the first fits (so a large image is not starved by small ones). */
  private wake(): void {
    while (this.waiters.length > 0 && this.used + this.waiters[0].pixels <= this.capacity) {
      const w = this.waiters.shift()!;
      this.used += w.pixels;
      w.resolve();
    }
  }
}
