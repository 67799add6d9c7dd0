import {
  type Logger,
  type ProxyRequest,
  parsePayload,
  proxyRequestSchema,
  storageKeys,
} from '@embedcam/queues';
import type { ObjectStore } from '@embedcam/storage';
import type { ModelPools } from './model-pools.js';

/** What the proxies jobs (embed-shard, reduce) share. */
export interface ProxyJobContext {
  store: ObjectStore;
  pools: ModelPools;
  log: Logger;
}

/** proxies/<id>/request.json, written by the client before it adds the flow. */
export async function readProxyRequest(store: ObjectStore, proxyId: string): Promise<ProxyRequest> {
  return parsePayload(
    proxyRequestSchema,
    JSON.parse((await store.get(storageKeys.proxyRequest(proxyId))).toString('utf8')),
    'proxy request',
  );
}
