import type { Redis } from 'ioredis';

/** The Redis key where the services of a prefix advertise their store. */
export const storeAdvertKey = (prefix: string) => `${prefix}:store`;

/** How long an advert lives without being refreshed (a service refreshes it every third of this). */
export const STORE_ADVERT_TTL_MS = 60_000;

/** Two stores in one deployment: the message names both and what to change. */
export class StoreMismatchError extends Error {
  constructor(
    readonly prefix: string,
    readonly advertised: string,
    readonly mine: string,
    who: string,
  ) {
    super(
      `the services of prefix "${prefix}" use the store ${advertised}, but this ${who} uses ${mine}: ` +
        'set STORAGE_URI (or --storage) to the same store everywhere, or use another --prefix',
    );
    this.name = 'StoreMismatchError';
  }
}

export interface StoreAdvert {
  /** Stops refreshing (the advert expires on its own; other services may still hold it). */
  stop(): void;
}

/**
 * A service says which store it uses, in Redis under its prefix, before it takes any job: the first
 * one sets it, the others must use the same store or refuse to start (StoreMismatchError). The
 * advert is refreshed while the service runs and expires STORE_ADVERT_TTL_MS after the last one stops.
 */
export async function advertiseStore(
  redis: Redis,
  prefix: string,
  storeUri: string,
  who: string,
  ttlMs = STORE_ADVERT_TTL_MS,
): Promise<StoreAdvert> {
  const key = storeAdvertKey(prefix);
  const set = await redis.set(key, storeUri, 'PX', ttlMs, 'NX');
  if (set !== 'OK') {
    const current = await redis.get(key);
    if (current !== null && current !== storeUri)
      throw new StoreMismatchError(prefix, current, storeUri, who);
    await redis.set(key, storeUri, 'PX', ttlMs);
  }
  const timer = setInterval(
    () => void redis.set(key, storeUri, 'PX', ttlMs).catch(() => {}),
    Math.max(10, Math.floor(ttlMs / 3)),
  );
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** The store the running services of a prefix advertise, or null when none does. */
export function advertisedStore(redis: Redis, prefix: string): Promise<string | null> {
  return redis.get(storeAdvertKey(prefix));
}
