// What the store holds of a run: its result objects (ok or failure). The store, not Redis, decides
// what is done when a run is submitted again.
import { randomBytes } from 'node:crypto';
import { parseStoredFailure, storageKeys } from '@embedcam/queues';
import type { ObjectStore } from '@embedcam/storage';

/** Store requests in flight at once while listing, reading or deleting a run's result objects. */
const STORE_CONCURRENCY = 16;

/**
 * A new attempt id: milliseconds since the epoch in base 36, then 16 random bits. A counter kept in
 * Redis (previous attempt + 1) would repeat whenever Redis forgot the run's meta while BullMQ still
 * holds that attempt's completed jobs (they expire by age, on other keys), and two stores sharing
 * one Redis cannot agree on a counter at all; a time-ordered random id never repeats, needs no
 * coordination, and still sorts in the order the attempts were made.
 */
export function newAttempt(now = Date.now()): string {
  return `${now.toString(36)}${randomBytes(2).toString('hex')}`;
}

/** Runs `fn` over `xs`, `limit` at a time. */
async function eachLimited<T>(xs: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, xs.length) }, async () => {
    while (next < xs.length) await fn(xs[next++]);
  });
  await Promise.all(lanes);
}

/** Every key under a prefix of the store. */
export async function listKeys(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of store.list(prefix)) keys.push(k);
  return keys;
}

export function deleteObjects(store: ObjectStore, keys: readonly string[]): Promise<void> {
  return eachLimited(keys, STORE_CONCURRENCY, (k) => store.delete(k));
}

/** The selected images whose result (ok or failure) is in the store: imageId → key. */
export async function storedResults(
  store: ObjectStore,
  runId: string,
  items: readonly { id: string }[],
): Promise<Map<string, string>> {
  const byKey = new Map(items.map((it) => [storageKeys.result(runId, it.id), it.id]));
  const stored = new Map<string, string>();
  for (const key of await listKeys(store, storageKeys.results(runId))) {
    const id = byKey.get(key);
    if (id !== undefined) stored.set(id, key);
  }
  return stored;
}

/** The images whose stored result is a failure record. */
export async function storedFailures(
  store: ObjectStore,
  stored: ReadonlyMap<string, string>,
): Promise<string[]> {
  const failed: string[] = [];
  await eachLimited([...stored], STORE_CONCURRENCY, async ([id, key]) => {
    const bytes = await store.getOrNull(key);
    if (bytes && parseStoredFailure(bytes)) failed.push(id);
  });
  return failed;
}
