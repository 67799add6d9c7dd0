/**
 * A small promise cache: concurrent jobs share one load; a failed load is forgotten so the next
 * job tries again (a permanent failure after `keepPermanentMs`, so that a bad model does not restart
 * its threads for every job); beyond `max` entries the oldest goes.
 */
export class LoadCache<T> {
  private readonly entries = new Map<string, Promise<T>>();

  constructor(
    private readonly load: (key: string) => Promise<T>,
    private readonly max = 256,
    private readonly keepPermanentMs = 0,
  ) {}

  get(key: string): Promise<T> {
    let p = this.entries.get(key);
    if (!p) {
      p = this.load(key);
      this.entries.set(key, p);
      p.catch((err) => {
        const forget = () => {
          if (this.entries.get(key) === p) this.entries.delete(key);
        };
        if (this.keepPermanentMs > 0 && (err as { permanent?: unknown })?.permanent === true)
          setTimeout(forget, this.keepPermanentMs).unref();
        else forget();
      });
      if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    }
    return p;
  }

  values(): Promise<T>[] {
    return [...this.entries.values()];
  }
}
