import path from 'node:path';
import {
  EmbeddingCam,
  type GradientMode,
  initBackend,
  LABEL_ONLY_SCHEMES,
  loadCamModel,
  modelFingerprint,
  resolveModel,
} from '@embedcam/cam';
import { loadConfig } from '@embedcam/config';
import { formatSummary, openDataset, selectItems, summarizeDataset } from '@embedcam/datasets';
import { runExplain } from '@embedcam/explain';
import { InputReader, LocalStore } from '@embedcam/storage';
import type { Command } from 'commander';
import { formatSummaryTable } from '../format-summary.js';
import { logger } from '../logger.js';
import { createProgress } from '../progress.js';
import { parseChoice, parsePositiveInt } from './options.js';
import { addExplainFlags, addModelFlags, type ExplainInputFlags, parseTarget } from './shared-flags.js';

export interface ExplainCliOptions extends ExplainInputFlags {
  tfBackend?: string;
  batchSize: number;
  gradient: GradientMode;
  out: string;
}

export function registerExplain(program: Command): void {
  const cmd = program
    .command('explain')
    .description('Build proxies and compute EmbeddingCAM heatmaps + localization metrics in one process');
  addExplainFlags(addModelFlags(cmd))
    .option('--tf-backend <name>', 'TF.js backend: tensorflow | wasm | cpu | auto (env EMBEDCAM_TF_BACKEND)')
    .option('--batch-size <n>', 'images per forward pass', (v) => parsePositiveInt('--batch-size', v), 16)
    .option(
      '--gradient <mode>',
      'auto | closed-form | autodiff',
      (v) => parseChoice('--gradient', v, ['auto', 'closed-form', 'autodiff']),
      'auto',
    )
    .option('--out <dir>', 'output directory', 'out/explain')
    .action(async (opts: ExplainCliOptions) => {
      const summary = await explainCommand(opts);
      process.stdout.write(`${formatSummaryTable(summary)}\n`);
      if (summary.images.processed === 0) {
        logger.error('No image could be processed; see the failures in summary.json.');
        process.exitCode = 1;
      }
    });
}

export async function explainCommand(opts: ExplainCliOptions) {
  const log = logger.child({ cmd: 'explain' });
  const target = parseTarget(opts.target);
  const backend = await initBackend(opts.tfBackend);
  log.info({ backend: backend.backend, skipped: backend.tried }, `TF.js backend: ${backend.backend}`);
  const { spec } = await resolveModel(opts.model, opts.engine);
  const model = await loadCamModel(spec, { engine: opts.engine });
  const cam = new EmbeddingCam(model, opts.gradient);
  const fingerprint = await modelFingerprint(spec);
  log.info(
    { model: spec.name, runtime: model.backbone.runtime, dim: model.head.dim, fingerprint },
    'model loaded',
  );

  const ds = await openDataset(opts.dataset);
  const items = selectItems(ds, {
    classes: opts.classes,
    split: opts.split,
    limit: opts.limit,
    perClass: opts.perClass,
  });
  const referenceItems = LABEL_ONLY_SCHEMES.includes(opts.proxies)
    ? selectItems(ds, { classes: opts.classes })
    : selectItems(ds, { classes: opts.classes, split: opts.refSplit });
  log.info(
    {
      explain: formatSummary(summarizeDataset(items)),
      reference: formatSummary(summarizeDataset(referenceItems)),
    },
    `dataset ${ds.name}`,
  );

  const config = loadConfig(process.env);
  const inputs = new InputReader({
    allowed: [...config.EMBEDCAM_ALLOWED_URIS, ...(opts.allow ?? [])],
    maxBytes: config.EMBEDCAM_MAX_READ_BYTES,
  });
  const progress = createProgress(log);
  const started = Date.now();
  try {
    const { summary } = await runExplain({
      cam,
      items,
      referenceItems,
      scheme: opts.proxies,
      model: { name: spec.name, fingerprint },
      dataset: { name: ds.name, source: ds.source, split: opts.refSplit, classes: opts.classes },
      classNames: ds.classes,
      out: new LocalStore(path.resolve(opts.out)),
      // Confined like a worker: the dataset's directory, EMBEDCAM_ALLOWED_URIS and --allow.
      read: (uri) => inputs.read(uri, ds.source),
      batchSize: opts.batchSize,
      target,
      resolution: opts.resolution,
      overlays: opts.overlays,
      tau: opts.tau,
      run: {
        command: 'explain',
        split: opts.split,
        classes: opts.classes ?? 'all',
        engine: model.backbone.runtime,
      },
      onProgress: (phase, done, total, failed) => progress.update(phase, done, total, failed),
    });
    const seconds = (Date.now() - started) / 1000;
    log.info(
      {
        out: path.resolve(opts.out),
        seconds,
        processed: summary.images.processed,
        failed: summary.images.failed,
      },
      'explain finished',
    );
    return summary;
  } finally {
    progress.stop();
    model.dispose();
  }
}
