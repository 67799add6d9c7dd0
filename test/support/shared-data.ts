// The one place tests learn where the shared reference data is and whether it is there.
//
// Without it, tests on real CUB images and the pretrained model skip with a message, so a checkout
// without ../shared still tests everything else. With EMBEDCAM_REQUIRE_SHARED=1 (CI) a missing path
// fails instead: importing this module throws, and so does the vitest globalSetup that calls
// requireSharedData() before any test runs, so CI cannot go green by skipping its core.
//
// It imports nothing heavy on purpose: the globalSetup loads it in vitest's main process, and
// @embedcam/cam (whose sharedDir() the CLI uses) would cost seconds there. shared-data.test.ts
// checks that both say the same.
import { existsSync } from 'node:fs';
import path from 'node:path';

/** EMBEDCAM_SHARED_DIR, default ../shared beside the repository (the rule of sharedDir() in @embedcam/cam). */
export function sharedDataDir(): string {
  return process.env.EMBEDCAM_SHARED_DIR ?? path.resolve(import.meta.dirname, '../../../shared');
}

export const SHARED_DIR = sharedDataDir();
export const CUB_DIR = path.join(SHARED_DIR, 'data/cub200-subset');
export const MODEL_DIR = path.join(SHARED_DIR, 'models/mobilenetv2-035-imagenet');

/** The CUB-200-2011 subset: its image list and image folder. */
export const HAS_CUB =
  existsSync(path.join(CUB_DIR, 'images.txt')) && existsSync(path.join(CUB_DIR, 'images'));
/** The shared MobileNetV2 in TF.js layers format. */
export const HAS_MODEL = existsSync(path.join(MODEL_DIR, 'model.json'));
/** The same model for ONNX Runtime (the default engine where it exists). */
export const HAS_ONNX = existsSync(path.join(MODEL_DIR, 'model.onnx'));
export const HAS_SHARED = HAS_CUB && HAS_MODEL;

export const REQUIRE_SHARED = process.env.EMBEDCAM_REQUIRE_SHARED === '1';

/** Paths the tests on shared data read, absent here. */
export function missingSharedData(): string[] {
  return [
    path.join(CUB_DIR, 'images.txt'),
    path.join(CUB_DIR, 'images'),
    path.join(MODEL_DIR, 'model.json'),
    path.join(MODEL_DIR, 'model.onnx'),
  ].filter((p) => !existsSync(p));
}

/** Throws, naming what is missing and how to fix it, when EMBEDCAM_REQUIRE_SHARED=1 and data is absent. */
export function requireSharedData(): void {
  if (!REQUIRE_SHARED) return;
  const missing = missingSharedData();
  if (missing.length === 0) return;
  const env = process.env.EMBEDCAM_SHARED_DIR;
  throw new Error(
    [
      'EMBEDCAM_REQUIRE_SHARED=1, but the shared reference data is missing:',
      ...missing.map((p) => `  ${p}`),
      `The shared dir is ${SHARED_DIR} (${env === undefined ? 'EMBEDCAM_SHARED_DIR unset: ../shared beside the repository' : `EMBEDCAM_SHARED_DIR=${env}`}).`,
      'Set EMBEDCAM_SHARED_DIR to the folder holding data/cub200-subset and models/mobilenetv2-035-imagenet,',
      'or unset EMBEDCAM_REQUIRE_SHARED to let the tests that need it skip.',
    ].join('\n'),
  );
}

requireSharedData();
const missing = missingSharedData();
if (missing.length > 0) {
  console.warn(
    `[embedcam tests] shared data not found under ${SHARED_DIR} (set EMBEDCAM_SHARED_DIR; missing ${missing.join(', ')}): tests on real CUB images and the pretrained model are skipped.`,
  );
}
