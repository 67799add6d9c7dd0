import { decodeProxySet, type ProxySet } from '@embedcam/cam';
import { type RunConfig, readRunConfig, storageKeys } from '@embedcam/queues';
import type { ObjectStore } from '@embedcam/storage';
import { JobFailure } from './failures.js';

function isNotFound(err: unknown): boolean {
  return (err as Error)?.name === 'NotFoundError';
}

/**
 * runs/<id>/run.json. Missing: retried (the submitter may still be writing it), then reported as
 * run-not-found; unreadable JSON or a wrong shape: bad-run-config at once.
 */
export async function loadRunConfig(store: ObjectStore, runId: string): Promise<RunConfig> {
  const r = await readRunConfig(store, runId);
  if (r.ok) return r.config;
  if (r.problem === 'missing')
    throw new JobFailure('run-not-found', `${r.message}; submit the run again.`, false);
  throw new JobFailure('bad-run-config', `${r.message}.`, true);
}

export interface StoredProxies {
  set: ProxySet;
  /** The artifact as stored (sent to the compute threads as is). */
  data: Uint8Array;
  meta: string;
}

/** proxies/<id>/proxies.{bin,json}, validated (checksum) once here before any thread sees them. */
export async function loadProxies(store: ObjectStore, proxyId: string): Promise<StoredProxies> {
  const dataKey = storageKeys.proxiesData(proxyId);
  const metaKey = storageKeys.proxiesMeta(proxyId);
  let data: Buffer;
  let meta: string;
  try {
    [data, meta] = await Promise.all([
      store.get(dataKey),
      store.get(metaKey).then((b) => b.toString('utf8')),
    ]);
  } catch (err) {
    if (isNotFound(err)) {
      throw new JobFailure(
        'proxies-not-found',
        `Proxy set ${proxyId} is not in ${store.uri} (${dataKey}, ${metaKey}); build the proxies before the heatmaps.`,
        false,
        { cause: err },
      );
    }
    throw err;
  }
  try {
    return { set: decodeProxySet(data, meta, `proxy set ${proxyId}`), data, meta };
  } catch (err) {
    throw new JobFailure('bad-proxies', (err as Error).message, true);
  }
}
