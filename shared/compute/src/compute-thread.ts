// A compute thread: owns one model session and does all CPU-heavy work of a heatmap (decoding and
// resizing files when given bytes, forward pass, head gradient, upsampling, normalisation, metrics,
// PNG and overlay encoding), so the worker's event loop never blocks.
// Loaded through thread-entry.mjs; talks to ComputePool through the messages in protocol.ts.
import { parentPort, workerData } from 'node:worker_threads';
import {
  decodeProxySet,
  EmbeddingCam,
  loadCamModel,
  modelFingerprint,
  type ProxySet,
  resolveModelSpec,
} from '@embedcam/cam';
import type { DatasetItem } from '@embedcam/datasets';
import { explainBatch, type LoadedItem, packBatch, toFailure } from '@embedcam/explain';
import {
  encodeHeatmapPng,
  type PreparedImage,
  prepareForModel,
  renderExplainOverlay,
} from '@embedcam/images';
import type {
  ComputeInit,
  EmbedFailure,
  ExplainFailed,
  ExplainInput,
  ExplainOutcome,
  FromThread,
  ModelInfo,
  ToThread,
} from './protocol.js';
import { toWireError } from './protocol.js';
import { ownBytes, ownFloats } from './transfer.js';

const port = parentPort;
if (!port) throw new Error('compute-thread.ts must run in a worker thread (see ComputePool).');
const init = workerData as ComputeInit;
const EMPTY = Buffer.alloc(0);

function send(msg: FromThread, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

let cam: EmbeddingCam;
const proxies = new Map<string, ProxySet>();
const proxyErrors = new Map<string, Error>();

async function start(): Promise<void> {
  try {
    const spec = await resolveModelSpec(init.model, init.engine);
    const model = await loadCamModel(spec, { engine: init.engine, tfBackend: init.tfBackend });
    cam = new EmbeddingCam(model, init.gradient ?? 'auto');
    const info: ModelInfo = {
      name: spec.name,
      runtime: model.backbone.runtime,
      fingerprint: await modelFingerprint(spec),
      dim: model.head.dim,
      input: { width: spec.input.width, height: spec.input.height },
      gradient: cam.gradient,
    };
    send({ type: 'ready', info });
  } catch (err) {
    send({ type: 'initError', error: toWireError(err) });
  }
}

function asBuffer(b: Uint8Array | undefined): Buffer {
  return b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : EMPTY;
}

/**
 * The item's pixels: given, or decoded and resized from its file here (sharp on libuv's pool, the
 * resize in this thread). A file that cannot be decoded fails the item, not the batch.
 */
async function pixelsOf(x: ExplainInput): Promise<PreparedImage | ExplainFailed> {
  if (x.image) return x.image;
  const { width, height } = cam.model.spec.input;
  try {
    return await prepareForModel(asBuffer(x.bytes), {
      width,
      height,
      label: `image ${x.item.id} (${x.item.uri})`,
    });
  } catch (err) {
    const f = toFailure(x.item, err);
    return { ok: false, code: f.code, message: f.message };
  }
}

async function explain(msg: Extract<ToThread, { type: 'explain' }>): Promise<void> {
  if (init.crashOnItemId !== undefined && msg.items.some((x) => x.item.id === init.crashOnItemId)) {
    process.exit(70);
  }
  const set = proxies.get(msg.proxyId);
  if (!set)
    throw proxyErrors.get(msg.proxyId) ?? new Error(`Proxy set ${msg.proxyId} was not sent to this thread.`);
  const outcomes: ExplainOutcome[] = new Array(msg.items.length);
  const index = new Map<DatasetItem, number>();
  const prepared = await Promise.all(
    msg.items.map(async (x, i): Promise<LoadedItem | null> => {
      index.set(x.item, i);
      const image = await pixelsOf(x);
      if ('ok' in image) {
        outcomes[i] = image;
        return null;
      }
      return { item: x.item, image, bytes: asBuffer(x.bytes) };
    }),
  );
  const loaded = prepared.filter((l): l is LoadedItem => l !== null);
  const { explained, failed } = await explainBatch(cam, loaded, set, {
    target: msg.target,
    resolution: msg.resolution,
  });
  for (const f of failed) outcomes[index.get(f.item)!] = { ok: false, code: f.code, message: f.message };
  const transfer: ArrayBuffer[] = [];
  await Promise.all(
    explained.map(async (e) => {
      const i = index.get(e.item)!;
      try {
        const heat = e.evaluated.heatmap;
        const render = msg.render ?? {};
        const [png, overlay] = await Promise.all([
          render.heatmapPng ? encodeHeatmapPng(heat.data, heat.width, heat.height) : undefined,
          render.overlay && e.bytes.length > 0
            ? renderExplainOverlay(e.bytes, heat, { box: e.item.bbox, label: e.item.uri })
            : undefined,
        ]);
        const raw = ownFloats(e.raw.data);
        const heatData = ownFloats(heat.data);
        const files = [png, overlay].map((b) => (b ? ownBytes(b) : undefined));
        transfer.push(raw.buffer as ArrayBuffer, heatData.buffer as ArrayBuffer);
        for (const b of files) if (b) transfer.push(b.buffer as ArrayBuffer);
        outcomes[i] = {
          ok: true,
          raw: { width: e.raw.width, height: e.raw.height, data: raw },
          heatmap: { width: heat.width, height: heat.height, data: heatData },
          metrics: e.evaluated.metrics,
          score: e.score,
          nearestLabel: e.nearestLabel,
          targetLabel: e.targetLabel,
          allZero: e.evaluated.allZero,
          box: e.evaluated.box,
          original: e.image.original,
          png: files[0],
          overlay: files[1],
        };
      } catch (err) {
        const f = toFailure(e.item, err);
        outcomes[i] = { ok: false, code: f.code, message: f.message };
      }
    }),
  );
  for (let i = 0; i < outcomes.length; i++) {
    outcomes[i] ??= { ok: false, code: 'error', message: `image ${msg.items[i].item.id}: no result (bug)` };
  }
  send({ type: 'explained', batchId: msg.batchId, outcomes }, transfer);
}

async function embed(msg: Extract<ToThread, { type: 'embed' }>): Promise<void> {
  const prepared = await Promise.all(msg.items.map((x) => (x.item ? pixelsOf(x) : x.image)));
  const images: PreparedImage[] = [];
  const failed: EmbedFailure[] = [];
  prepared.forEach((p, index) => {
    if ('ok' in p) failed.push({ index, code: p.code, message: p.message });
    else images.push(p);
  });
  const n = images.length;
  const embeddings = n
    ? ownFloats(await cam.embed(packBatch(images, cam.model.spec, cam.model.backbone.inputLayout), n))
    : new Float32Array(0);
  send({ type: 'embedded', batchId: msg.batchId, result: { embeddings, dim: cam.model.head.dim }, failed }, [
    embeddings.buffer as ArrayBuffer,
  ]);
}

async function handle(msg: ToThread): Promise<void> {
  if (msg.type === 'setProxies') {
    // Decoding checks the checksum; a bad set fails the batches that use it (not the thread).
    try {
      proxies.set(
        msg.proxyId,
        decodeProxySet(new Uint8Array(msg.data), msg.meta, `proxy set ${msg.proxyId}`),
      );
      proxyErrors.delete(msg.proxyId);
    } catch (err) {
      proxies.delete(msg.proxyId);
      proxyErrors.set(msg.proxyId, err as Error);
    }
    return;
  }
  try {
    if (msg.type === 'explain') await explain(msg);
    else await embed(msg);
  } catch (err) {
    send({ type: 'batchError', batchId: msg.batchId, error: toWireError(err) });
  }
}

// Messages are handled one after another (the pool sends one batch at a time anyway).
let chain: Promise<void> = start();
port.on('message', (msg: ToThread) => {
  chain = chain.then(() => handle(msg));
});
