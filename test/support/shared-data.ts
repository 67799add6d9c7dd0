import { existsSync } from 'node:fs';
import path from 'node:path';
import { sharedDir } from '@embedcam/cam';

/** The shared reference data (EMBEDCAM_SHARED_DIR, default ../shared); tests skip with a message where absent. */
export const SHARED_DIR = sharedDir();
export const CUB_DIR = path.join(SHARED_DIR, 'data/cub200-subset');
export const MODEL_DIR = path.join(SHARED_DIR, 'models/mobilenetv2-035-imagenet');
export const HAS_CUB = existsSync(path.join(CUB_DIR, 'images.txt'));
export const HAS_MODEL = existsSync(path.join(MODEL_DIR, 'model.json'));
export const HAS_SHARED = HAS_CUB && HAS_MODEL;

if (!HAS_SHARED) {
  console.warn(
    `[embedcam tests] shared data not found under ${SHARED_DIR} (set EMBEDCAM_SHARED_DIR): tests on real CUB images and the pretrained model are skipped.`,
  );
}
