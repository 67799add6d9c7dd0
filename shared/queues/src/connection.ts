import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { withTimeout } from './with-timeout.js';

/** Reconnect backoff: 100 ms doubling to a 5 s cap, for ever (services wait out an outage). */
export function reconnectDelay(attempt: number): number {
  return Math.min(100 * 2 ** Math.min(Math.max(attempt - 1, 0), 10), 5000);
}

/**
 * One way to connect. BullMQ workers need `maxRetriesPerRequest: null` (blocking commands must
 * wait through reconnects instead of failing); producers and plain clients share the same options
 * so behaviour during a Redis restart is the same everywhere. BullMQ's duplicates inherit them.
 * Pair it with {@link watchConnection}, which also gives the connection its error listener.
 */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    lazyConnect: false,
    retryStrategy: reconnectDelay,
    ...opts,
  });
}

/** Answers PING within `timeoutMs`? (used to pick the embedded default). */
export async function redisAnswers(url: string, timeoutMs = 500): Promise<boolean> {
  return (await pingOnce(url, timeoutMs)) === undefined;
}

/** undefined when `url` answered PING within `timeoutMs`, else why not. */
async function pingOnce(url: string, timeoutMs: number): Promise<string | undefined> {
  const r = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let lastError: string | undefined;
  r.on('error', (err: Error) => {
    lastError = err.message;
  });
  try {
    const ping = async () => {
      await r.connect();
      const pong = await r.ping();
      if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
    };
    await withTimeout(ping(), timeoutMs, () => new Error('no answer'));
    return undefined;
  } catch (err) {
    return lastError ?? (err as Error).message;
  } finally {
    r.disconnect();
  }
}

/** The URL without its password, for messages. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** Redis did not answer in time: the CLI prints the message as one line. */
export class RedisUnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly timeoutMs: number,
    readonly reason: string | undefined,
  ) {
    const secs = timeoutMs % 1000 === 0 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`;
    super(
      `Redis at ${redactRedisUrl(url)} did not answer within ${secs}${reason ? ` (${reason})` : ''}: ` +
        'start Redis or set REDIS_URL / --redis-url',
    );
    this.name = 'RedisUnreachableError';
  }
}

/**
 * Resolves once `url` answers PING; tries again every 250 ms until `timeoutMs` has passed, then
 * throws RedisUnreachableError. Leaves no connection behind either way.
 */
export async function waitForRedis(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let reason: string | undefined;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    reason = await pingOnce(url, Math.min(left, 2000));
    if (reason === undefined) return;
    const wait = Math.min(250, deadline - Date.now());
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  throw new RedisUnreachableError(url, timeoutMs, reason);
}

/** What watchConnection can follow: a raw ioredis connection or a BullMQ Worker, Queue, QueueEvents… */
type Watchable =
  | Redis
  | {
      on(event: 'error', fn: (err: Error) => void): unknown;
      getBackend(): { on(event: 'ready', fn: () => void): unknown };
    };

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);
const NETWORK_MESSAGE =
  /Connection is closed|Stream isn't writeable|Socket closed unexpectedly|connect ETIMEDOUT|ECONNREFUSED|ECONNRESET|EPIPE|getaddrinfo/;

/** An error of the connection itself (Redis away), as opposed to one of a command or a job. */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e) return false;
  return (
    (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) ||
    (typeof e.message === 'string' && NETWORK_MESSAGE.test(e.message))
  );
}

export interface ConnectionWatch {
  /** Follows another connection or BullMQ object (its duplicates included) as part of the same outage. */
  add(target: Watchable): void;
  /** Redis is unreachable now (since the first error, until every watched connection is ready). */
  readonly down: boolean;
}

/**
 * Gives `redis` (and every BullMQ object passed to `add`) an error listener, so that ioredis never
 * prints "Unhandled error event", and logs an outage once: one warning when the first connection
 * errs (`<name>: Redis unreachable …`), one info line when all are ready again
 * (`<name>: Redis is back`). Reconnect attempts in between log nothing. Errors that are
 * not about the connection (a BullMQ worker's own) are logged as errors, as before.
 */
export function watchConnection(redis: Watchable, log: Logger, name: string): ConnectionWatch {
  const failing = new Set<object>();
  let since = 0;
  const onError = (member: object, err: Error, raw: boolean) => {
    if (!raw && !isConnectionError(err) && failing.size === 0) {
      log.error({ err: err.message }, `${name}: ${err.message}`);
      return;
    }
    if (failing.size === 0) {
      since = Date.now();
      log.warn({ err: err.message }, `${name}: Redis unreachable (retrying quietly until it is back)`);
    }
    failing.add(member);
  };
  const onReady = (member: object) => {
    if (!failing.delete(member) || failing.size > 0) return;
    log.info({ downMs: Date.now() - since }, `${name}: Redis is back`);
  };
  const watch: ConnectionWatch = {
    add(target) {
      if (target instanceof Redis) {
        target.on('error', (err: Error) => onError(target, err, true));
        target.on('ready', () => onReady(target));
      } else {
        target.on('error', (err: Error) => onError(target, err, false));
        target.getBackend().on('ready', () => onReady(target));
      }
    },
    get down() {
      return failing.size > 0;
    },
  };
  watch.add(redis);
  return watch;
}
