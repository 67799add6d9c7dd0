import type { Redis } from 'ioredis';

/** The Redis hash where the services of a prefix advertise their store: one field per service. */
export const storeAdvertKey = (prefix: string) => `${prefix}:stores`;

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
  /** Withdraws this service's advert (a stopped service no longer speaks for the prefix). */
  stop(): Promise<void>;
}

/** Each live field is `<expiresAtMs> <storeUri>`; expired ones (a crashed service) are dropped. */
async function liveAdverts(redis: Redis, prefix: string): Promise<string[]> {
  const key = storeAdvertKey(prefix);
  const all = await redis.hgetall(key);
  const now = Date.now();
  const live: string[] = [];
  for (const [field, value] of Object.entries(all)) {
    const space = value.indexOf(' ');
    if (Number(value.slice(0, space)) > now) live.push(value.slice(space + 1));
    else await redis.hdel(key, field);
  }
  return live;
}

let serial = 0;

/**
 * A service says which store it uses, in Redis under its prefix, before it takes any job. A service
 * whose store differs from that of a running service of the prefix refuses to start
 * (StoreMismatchError). The advert is refreshed while the service runs, withdrawn when it stops,
 * and ignored ttlMs after a crashed service's last refresh.
 */
export async function advertiseStore(
  redis: Redis,
  prefix: string,
  storeUri: string,
  who: string,
  ttlMs = STORE_ADVERT_TTL_MS,
): Promise<StoreAdvert> {
  const other = (await liveAdverts(redis, prefix)).find((uri) => uri !== storeUri);
  if (other !== undefined) throw new StoreMismatchError(prefix, other, storeUri, who);
  const key = storeAdvertKey(prefix);
  const field = `${who}:${process.pid}:${++serial}:${Date.now()}`;
  const put = () => redis.hset(key, field, `${Date.now() + ttlMs} ${storeUri}`);
  await put();
  const timer = setInterval(() => void put().catch(() => {}), Math.max(10, Math.floor(ttlMs / 3)));
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      // Bounded: a Redis that is gone must not hold up a shutdown (the advert then expires).
      let bound: NodeJS.Timeout | undefined;
      await Promise.race([
        redis.hdel(key, field).catch(() => {}),
        new Promise((r) => {
          bound = setTimeout(r, 1000);
        }),
      ]);
      clearTimeout(bound);
    },
  };
}

/** The store the running services of a prefix advertise, or null when none does. */
export async function advertisedStore(redis: Redis, prefix: string): Promise<string | null> {
  return (await liveAdverts(redis, prefix))[0] ?? null;
}
