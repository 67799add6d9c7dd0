/**
 * Timings, reported and never asserted. Opt-in (slow):
 *   EMBEDCAM_BENCH=1 npx vitest run shared/cam/test/onnx-bench.test.ts
 * Forward ms/image at batch 1, 8, 32 for ONNX Runtime (CPU, EMBEDCAM_ONNX_THREADS or 1 thread) vs
 * TF.js (the backend initBackend picks; wasm here), the explain (forward + head gradient) ms/image
 * for both, and the NCHW → NHWC conversion (tf.transpose, which nchwToNhwc uses, vs a JS loop).
 * Each figure is the median over the repetitions.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { HAS_SHARED } from '../../../test/support/shared-data.js';
import {
  type CamModel,
  defaultModelSpec,
  EmbeddingCam,
  initBackend,
  loadCamModel,
  nchwToNhwc,
  type ProxyPicker,
} from '../src/index.js';

const BENCH = process.env.EMBEDCAM_BENCH === '1';
const BATCHES = [1, 8, 32];
const MAX_N = 32;

if (!BENCH) console.warn('[embedcam tests] onnx-bench skipped: set EMBEDCAM_BENCH=1 to measure.');

const selfPicker: ProxyPicker = (y) => Float32Array.from(y);

/** Median ms of `reps` runs after one warm-up. */
async function timeIt(reps: number, f: () => Promise<void>): Promise<number> {
  await f();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(reps / 2)];
}

/** The JS alternative to tf.transpose, for the comparison only. */
function jsLoopNhwc(data: Float32Array, n: number, k: number, hw: number): Float32Array {
  const out = new Float32Array(n * hw * k);
  for (let b = 0; b < n; b++) {
    const src = b * k * hw;
    for (let c = 0; c < k; c++) {
      const plane = src + c * hw;
      let dst = src + c;
      for (let p = 0; p < hw; p++, dst += k) out[dst] = data[plane + p];
    }
  }
  return out;
}

/** The first n images of a batch of MAX_N (the data is per-image contiguous in both layouts). */
function first(input: Float32Array, n: number): Float32Array {
  return input.subarray(0, n * 224 * 224 * 3);
}

describe.runIf(BENCH && HAS_SHARED)('ONNX vs TF.js timings (report only)', () => {
  it('measures', async () => {
    const backend = await initBackend();
    const { loadCubBatch } = await import('../../../test/support/cub-batch.js');
    const nhwc = await loadCubBatch(MAX_N, 'nhwc');
    const nchw = await loadCubBatch(MAX_N, 'nchw');
    const engines: Array<[string, CamModel, Float32Array]> = [
      ['onnx', await loadCamModel(defaultModelSpec('onnx')), nchw],
      ['tfjs', await loadCamModel(defaultModelSpec()), nhwc],
    ];
    const rows: string[] = [
      `TF.js backend ${backend.backend}; ONNX threads ${process.env.EMBEDCAM_ONNX_THREADS ?? 1}`,
    ];
    for (const n of BATCHES) {
      const reps = n === 1 ? 31 : n === 8 ? 9 : 5;
      for (const [name, model, input] of engines) {
        const x = first(input, n);
        const fwd = await timeIt(reps, async () => {
          const a = await model.backbone.forward(x, n);
          await a.data();
          a.dispose();
        });
        const cam = new EmbeddingCam(model);
        const explain = await timeIt(reps, async () => {
          await cam.explain(x, n, selfPicker);
        });
        rows.push(
          `${name.padEnd(5)} (${model.backbone.runtime}) batch ${String(n).padStart(2)}: forward ${(fwd / n).toFixed(2)} ms/image, explain ${(explain / n).toFixed(2)} ms/image`,
        );
      }
    }
    for (const n of BATCHES) {
      const data = Float32Array.from({ length: n * 1280 * 49 }, (_, i) => Math.sin(i));
      const js = await timeIt(50, async () => {
        const t = tf.tensor4d(jsLoopNhwc(data, n, 1280, 49), [n, 7, 7, 1280]);
        await t.data();
        t.dispose();
      });
      const viaTf = await timeIt(50, async () => {
        const t = nchwToNhwc(data, n, 1280, 7, 7);
        await t.data();
        t.dispose();
      });
      rows.push(
        `NCHW→NHWC [${n},1280,7,7]: JS loop ${js.toFixed(3)} ms, tf.transpose ${viaTf.toFixed(3)} ms`,
      );
    }
    console.log(rows.join('\n'));
    for (const [, model] of engines) model.dispose();
    expect(rows.length).toBe(1 + BATCHES.length * 2 + BATCHES.length);
  }, 600_000);
});
