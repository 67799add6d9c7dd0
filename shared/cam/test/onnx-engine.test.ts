import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { HAS_CUB, HAS_ONNX, HAS_MODEL as HAS_TFJS, MODEL_DIR } from '@embedcam/test-support/shared-data';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type CamBatch,
  type CamModel,
  defaultModelSpec,
  EmbeddingCam,
  encodeDenseWeights,
  initBackend,
  loadCamModel,
  type ModelSpec,
  OnnxBackbone,
  type ProxyPicker,
  parseModelSpec,
  resolveOnnxThreads,
  UnsupportedModelError,
} from '../src/index.js';
import { maxAbs, maxAbsDiff, normalised } from './map-compare.js';

const N = 8;
const HW = 7 * 7;

function cosines(a: Float32Array, b: Float32Array, n: number): number[] {
  const dim = a.length / n;
  return Array.from({ length: n }, (_, i) => {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let j = i * dim; j < (i + 1) * dim; j++) {
      ab += a[j] * b[j];
      aa += a[j] * a[j];
      bb += b[j] * b[j];
    }
    return ab / Math.sqrt(aa * bb);
  });
}

/** Deterministic pseudo-random proxies, independent of the embeddings (so both engines get the same). */
const randomPicker: ProxyPicker = (_y, n, dim) =>
  Float32Array.from({ length: n * dim }, (_, i) => Math.sin(i * 12.9898) * 0.5);

/** Fixed proxies: "how similar is image i to image i+1", from given embeddings. */
function neighbourPicker(reference: Float32Array): ProxyPicker {
  return (_y, n, dim) => {
    const out = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      const j = (i + 1) % n;
      out.set(reference.subarray(j * dim, (j + 1) * dim), i * dim);
    }
    return out;
  };
}

describe('ONNX thread count', () => {
  it('defaults to 1, reads EMBEDCAM_ONNX_THREADS, and the option wins', () => {
    expect(resolveOnnxThreads(undefined, undefined)).toBe(1);
    expect(resolveOnnxThreads(undefined, '')).toBe(1);
    expect(resolveOnnxThreads(undefined, '3')).toBe(3);
    expect(resolveOnnxThreads(2, '3')).toBe(2);
  });

  it('rejects bad values, naming where they came from', () => {
    expect(() => resolveOnnxThreads(undefined, 'four')).toThrow(/EMBEDCAM_ONNX_THREADS .*"four"/);
    expect(() => resolveOnnxThreads(undefined, '0')).toThrow(/EMBEDCAM_ONNX_THREADS/);
    expect(() => resolveOnnxThreads(1.5)).toThrow(/onnxThreads must be a positive integer; got 1\.5/);
  });
});

describe.skipIf(!HAS_ONNX)('ONNX engine on the shared MobileNetV2', () => {
  let tmp: string;
  const loaded: CamModel[] = [];
  async function load(spec: ModelSpec, opts: Parameters<typeof loadCamModel>[1] = {}): Promise<CamModel> {
    const model = await loadCamModel(spec, opts);
    loaded.push(model);
    return model;
  }

  beforeAll(async () => {
    await initBackend();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-onnx-'));
  });
  afterAll(async () => {
    for (const m of loaded) m.dispose();
    await rm(tmp, { recursive: true, force: true });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('loads with the CPU provider by default and declares NCHW input', async () => {
    const model = await load(defaultModelSpec('onnx'));
    expect(model.backbone).toBeInstanceOf(OnnxBackbone);
    expect(model.backbone.runtime).toBe('onnxruntime-cpu');
    expect(model.backbone.inputLayout).toBe('nchw');
    expect(model.head.dim).toBe(1280);
    expect(model.head.linear).not.toBeNull();
    const a = await model.backbone.forward(new Float32Array(2 * 3 * 224 * 224), 2);
    expect(a.shape).toEqual([2, 7, 7, 1280]);
    a.dispose();
    await expect(model.backbone.forward(new Float32Array(10), 1)).rejects.toThrow(
      /ONNX input "image" needs 1×3×224×224 = 150528 values \(NCHW\); got 10/,
    );
  });

  it('takes the only input when input.name is absent, and honours onnxThreads', async () => {
    const spec = defaultModelSpec('onnx');
    const model = await load({ ...spec, input: { ...spec.input, name: undefined } }, { onnxThreads: 2 });
    const a = await model.backbone.forward(new Float32Array(3 * 224 * 224), 1);
    expect(a.shape).toEqual([1, 7, 7, 1280]);
    a.dispose();
  });

  it('names the spec field and lists the available names for a wrong input or output name', async () => {
    const spec = defaultModelSpec('onnx');
    await expect(loadCamModel({ ...spec, targetLayer: 'out_relu' })).rejects.toThrow(UnsupportedModelError);
    await expect(loadCamModel({ ...spec, targetLayer: 'out_relu' })).rejects.toThrow(
      /targetLayer "out_relu" is not an output of ONNX model .*model\.onnx; its outputs are "features", "embedding"/,
    );
    await expect(loadCamModel({ ...spec, embeddingOutput: 'emb' })).rejects.toThrow(
      /embeddingOutput "emb" is not an output .*its outputs are "features", "embedding"/,
    );
    await expect(loadCamModel({ ...spec, input: { ...spec.input, name: 'input_1' } })).rejects.toThrow(
      /input\.name "input_1" is not an input .*its inputs are "image"/,
    );
    await expect(loadCamModel({ ...spec, targetLayer: 'embedding' })).rejects.toThrow(
      /targetLayer output "embedding" has shape \[N,1280\]; it must be an \[N,K,h,w\] activation/,
    );
    await expect(loadCamModel({ ...spec, input: { ...spec.input, width: 160 } })).rejects.toThrow(
      /ONNX input "image" has shape \[N,3,224,224\]; the engine feeds NCHW \[N,3,224,160\]/,
    );
  });

  it('keeps the clear errors for engine/format mismatches', async () => {
    await expect(loadCamModel(defaultModelSpec('onnx'), { engine: 'tfjs' })).rejects.toThrow(
      /Engine "tfjs" cannot run .*model\.onnx: it is an ONNX model\. Use engine "onnx"/,
    );
    await expect(loadCamModel(defaultModelSpec(), { engine: 'onnx' })).rejects.toThrow(
      /Engine "onnx" needs an \.onnx model; mobilenetv2-035-imagenet-gap is tfjs-layers/,
    );
    await expect(
      loadCamModel({ ...defaultModelSpec('onnx'), modelPath: path.join(tmp, 'missing.onnx') }),
    ).rejects.toThrow(/Cannot load ONNX model .*missing\.onnx/);
  });

  // The CUDA provider libraries are not in the npm package (its install script is denied), so
  // creating a CUDA session fails here: the engine must warn and run on CPU. Where they are
  // installed this fallback cannot be provoked, and the test is skipped.
  const ortBin = path.join(
    path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')),
    `../bin/napi-v6/${process.platform}/${process.arch}`,
  );
  const hasCudaLibs = existsSync(path.join(ortBin, 'libonnxruntime_providers_cuda.so'));
  it.skipIf(hasCudaLibs)('falls back to CPU with a warning when the CUDA provider cannot start', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const model = await load(defaultModelSpec('onnx'), { executionProviders: ['cuda'] });
    expect(model.backbone.runtime).toBe('onnxruntime-cpu');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(
      /provider "cuda" (failed|is not in this onnxruntime-node build)/,
    );
    const a = await model.backbone.forward(new Float32Array(3 * 224 * 224), 1);
    expect(a.shape).toEqual([1, 7, 7, 1280]);
    a.dispose();
  });

  it('refuses a dense head whose input does not match the target channels', async () => {
    await writeFile(
      path.join(tmp, 'small.bin'),
      encodeDenseWeights([{ kernel: new Float32Array(64 * 8), bias: new Float32Array(8) }]),
    );
    const spec = parseModelSpec(
      {
        ...defaultModelSpec('onnx'),
        model: path.join(MODEL_DIR, 'model.onnx'),
        head: { type: 'gap', dense: [{ inputDim: 64, outputDim: 8 }], weights: 'small.bin' },
      },
      tmp,
    );
    await expect(loadCamModel(spec)).rejects.toThrow(
      /head\.dense\[0\]\.inputDim is 64 but ONNX output "features" has 1280 channels/,
    );
  });

  describe.skipIf(!HAS_CUB || !HAS_TFJS)('on real CUB images', () => {
    let nhwc: Float32Array;
    let nchw: Float32Array;
    let onnx: CamModel;
    let tfjs: CamModel;

    beforeAll(async () => {
      const { loadCubBatch } = await import('@embedcam/test-support/cub-batch');
      nhwc = await loadCubBatch(N, 'nhwc');
      nchw = await loadCubBatch(N, 'nchw');
      onnx = await load(defaultModelSpec('onnx'));
      tfjs = await load(defaultModelSpec());
    });

    it('the NCHW and NHWC batches really differ in layout (so the comparison below means something)', () => {
      expect(nchw.length).toBe(nhwc.length);
      expect(maxAbsDiff(nchw, nhwc)).toBeGreaterThan(0.5);
    });

    it('cross-engine: raw maps within 1e-3 and embeddings with cosine ≥ 0.9999', async () => {
      const tfEmb = await new EmbeddingCam(tfjs).embed(nhwc, N);
      const onnxEmb = await new EmbeddingCam(onnx).embed(nchw, N);
      for (const c of cosines(tfEmb, onnxEmb, N)) expect(c).toBeGreaterThanOrEqual(0.9999);
      // Distinct images: the check would catch a layout mix-up that collapses the embeddings.
      const shifted = cosines(tfEmb.subarray(0, 1280 * (N - 1)), tfEmb.subarray(1280), N - 1);
      expect(Math.min(...shifted)).toBeLessThan(0.99);

      for (const picker of [randomPicker, neighbourPicker(tfEmb)]) {
        const ref: CamBatch = await new EmbeddingCam(tfjs).explain(nhwc, N, picker);
        const ours: CamBatch = await new EmbeddingCam(onnx).explain(nchw, N, picker);
        expect([ours.n, ours.height, ours.width, ours.dim]).toEqual([N, 7, 7, 1280]);
        expect(ours.gradient).toBe('closed-form');
        // With L2 the raw maps are small (α ∝ 1/‖z‖, max ≈ 1e-2), so the 1e-3 absolute bound alone
        // is loose: the difference must also be < 1e-3 of the largest map value.
        const peak = maxAbs(ref.maps);
        expect(peak).toBeGreaterThan(0);
        const d = maxAbsDiff(ref.maps, ours.maps);
        console.log(
          `cross-engine (${picker === randomPicker ? 'random' : 'neighbour'} proxies): max |Δmap| ${d.toExponential(2)} (max map ${peak.toExponential(2)}), min cosine ${Math.min(...cosines(ref.embeddings, ours.embeddings, N)).toFixed(7)}`,
        );
        expect(d).toBeLessThan(1e-3);
        expect(d / peak).toBeLessThan(1e-3);
        for (let i = 0; i < N; i++) expect(ours.scores[i]).toBeCloseTo(ref.scores[i], 3);
      }
    });

    it('closed form and autodiff agree on the ONNX engine (GAP → L2)', async () => {
      await compareClosedAndAutodiff(onnx, nchw);
    });

    it('closed form and autodiff agree on the ONNX engine (GAP → dense → L2)', async () => {
      const kernel = Float32Array.from({ length: 1280 * 64 }, (_, i) => Math.sin(i * 0.37) * 0.05);
      const bias = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i) * 0.1);
      await writeFile(path.join(tmp, 'head.bin'), encodeDenseWeights([{ kernel, bias }]));
      const spec = parseModelSpec(
        {
          ...defaultModelSpec('onnx'),
          model: path.join(MODEL_DIR, 'model.onnx'),
          head: { type: 'gap', dense: [{ inputDim: 1280, outputDim: 64 }], weights: 'head.bin' },
          l2normalize: true,
        },
        tmp,
      );
      const model = await load(spec);
      expect(model.head.dim).toBe(64);
      await compareClosedAndAutodiff(model, nchw);
    });

    it('the embedding the graph exports equals the head recomputed from A (before L2)', async () => {
      const backbone = onnx.backbone as OnnxBackbone;
      const exported = (await backbone.exportedEmbedding(nchw, N))!;
      expect(exported).toHaveLength(N * 1280);
      const headEmb = await new EmbeddingCam(onnx).embed(nchw, N);
      for (const c of cosines(exported, headEmb, N)) expect(c).toBeGreaterThan(0.999999);
      // GAP of A by hand (A is NHWC from the backbone).
      const a = await backbone.forward(nchw, N);
      const av = (await a.data()) as Float32Array;
      a.dispose();
      const gap = new Float32Array(N * 1280);
      for (let i = 0; i < N; i++)
        for (let p = 0; p < HW; p++)
          for (let k = 0; k < 1280; k++) gap[i * 1280 + k] += av[(i * HW + p) * 1280 + k] / HW;
      expect(maxAbsDiff(gap, exported)).toBeLessThan(1e-4);
    });
  });
});

async function compareClosedAndAutodiff(model: CamModel, input: Float32Array) {
  const a = await model.backbone.forward(input, N);
  try {
    const closed = await new EmbeddingCam(model, 'closed-form').explainActivations(a, randomPicker);
    const auto = await new EmbeddingCam(model, 'autodiff').explainActivations(a, randomPicker);
    expect(closed.gradient).toBe('closed-form');
    expect(auto.gradient).toBe('autodiff');
    expect(maxAbs(closed.maps)).toBeGreaterThan(0);
    expect(maxAbsDiff(normalised(closed.maps, N), normalised(auto.maps, N))).toBeLessThan(1e-5);
    expect(maxAbsDiff(closed.maps, auto.maps) / maxAbs(closed.maps)).toBeLessThan(1e-5);
  } finally {
    a.dispose();
  }
}
