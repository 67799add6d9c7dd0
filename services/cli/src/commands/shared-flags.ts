import path from 'node:path';
import { PROXY_SCHEMES, type ProxyScheme } from '@embedcam/cam';
import type { CamTarget } from '@embedcam/explain';
import type { Command } from 'commander';
import { DATASET_HELP } from '../default-dataset.js';
import { parseChoice, parsePositiveInt, parseTau } from './options.js';

/** The values addModelFlags adds. */
export interface ModelFlags {
  /** Always set when an action runs: the default is filled in by useDefaultDataset. */
  dataset: string;
  model?: string;
  engine?: 'tfjs' | 'onnx';
  proxies: ProxyScheme;
}

/** The values addExplainFlags adds. */
export interface ExplainFlags {
  classes?: string;
  split: string;
  refSplit: string;
  limit?: number;
  perClass?: number;
  target: string;
  resolution: 'eval224' | 'original';
  tau: number;
  overlays: boolean;
  /** --allow: further input roots (repeatable), as EMBEDCAM_ALLOWED_URIS. */
  allow?: string[];
}

/** What explain and run both take: the data, model and proxies, and which images, how. */
export interface ExplainInputFlags extends ModelFlags, ExplainFlags {}

/** Which data, model and proxies: shared by explain, run and proxies build. */
export function addModelFlags(cmd: Command): Command {
  return cmd
    .option('--dataset <dir|manifest>', DATASET_HELP)
    .option(
      '--model <spec.json>',
      'model spec, readable by every worker (default: the bundled ImageNet MobileNetV2, embedding = GAP(out_relu), L2)',
    )
    .option(
      '--engine <tfjs|onnx>',
      'backbone runtime (default: from the model format; the default model runs on ONNX Runtime where model.onnx exists; env EMBEDCAM_ENGINE)',
      (v) => parseChoice('--engine', v, ['tfjs', 'onnx']),
    )
    .option(
      '--proxies <scheme>',
      `${PROXY_SCHEMES.join(' | ')} (random and uniform are controls)`,
      (v) => parseChoice('--proxies', v, PROXY_SCHEMES),
      'mean',
    );
}

/** Which images are explained, and how: shared by explain and run. */
export function addExplainFlags(cmd: Command): Command {
  return cmd
    .option(
      '--allow <prefix>',
      'also read images under this path, s3://bucket/prefix or http(s)://host/path (repeatable; adds to EMBEDCAM_ALLOWED_URIS)',
      (v: string, prev: string[] = []) => [...prev, allowedRoot(v)],
    )
    .option('--classes <range>', 'class ids, e.g. 1-10 or 1-5,8 (default: all)')
    .option('--split <name>', 'split to explain', 'test')
    .option('--ref-split <name>', 'split the proxies are built from', 'train')
    .option('--limit <n>', 'explain at most N images', (v) => parsePositiveInt('--limit', v))
    .option('--per-class <n>', 'explain at most N images per class', (v) =>
      parsePositiveInt('--per-class', v),
    )
    .option(
      '--target <gt|predicted|class>',
      'class to explain: the label, the nearest proxy, or a class id',
      'gt',
    )
    .option(
      '--resolution <r>',
      'eval224 (Choe et al.) | original',
      (v) => parseChoice('--resolution', v, ['eval224', 'original']),
      'eval224',
    )
    .option('--tau <t>', 'heatmap threshold of GT-known Loc (0, 0.01, … 0.99)', parseTau, 0.2)
    .option('--no-overlays', 'skip the colour overlays');
}

/** --target: the label (gt), the nearest proxy (predicted) or a class id. */
export function parseTarget(v: string): CamTarget {
  if (v === 'gt' || v === 'predicted') return v;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`--target "${v}": use gt, predicted or a class id.`);
  return n;
}

/** A relative --allow path is taken from the current directory; URLs are kept as written. */
export function allowedRoot(v: string): string {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(v) ? v : path.resolve(v);
}
