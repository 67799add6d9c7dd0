import type { PoolRegistry } from '@embedcam/compute';
import {
  type Logger,
  type ProxyRequest,
  parsePayload,
  proxyRequestSchema,
  storageKeys,
} from '@embedcam/queues';
import type { InputReader, ObjectStore } from '@embedcam/storage';

/** What the proxies jobs (embed-shard, reduce) share. */
export interface ProxyJobContext {
  store: ObjectStore;
  pools: PoolRegistry;
  log: Logger;
  /** Reads reference images, confined to the request's dataset directory, the store and the allowed roots. */
  inputs: InputReader;
}

/** proxies/<id>/request.json, written by the client before it adds the flow. */
export async function readProxyRequest(store: ObjectStore, proxyId: string): Promise<ProxyRequest> {
  return parsePayload(
    proxyRequestSchema,
    JSON.parse((await store.get(storageKeys.proxyRequest(proxyId))).toString('utf8')),
    'proxy request',
  );
}

/** The compute pool for a request's model (on its engine, else the proxy-builder's EMBEDCAM_ENGINE). */
export function poolFor(ctx: ProxyJobContext, req: Pick<ProxyRequest, 'model' | 'engine'>) {
  return ctx.pools.get(ctx.pools.key(req.model, req.engine));
}
