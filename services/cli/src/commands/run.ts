import path from 'node:path';
import { type EmbedcamClient, RunStalledError } from '@embedcam/client';
import { storageKeys } from '@embedcam/queues';
import { NotFoundError } from '@embedcam/storage';
import type { Command } from 'commander';
import { formatSummaryTable } from '../format-summary.js';
import { logger } from '../logger.js';
import { UserError } from '../user-error.js';
import { parseChoice, parsePositiveInt } from './options.js';
import { addConnectionFlags, type ConnectionFlags } from './pipeline-options.js';
import { openPipelineSession, withClient } from './pipeline-session.js';
import {
  addExplainFlags,
  addModelFlags,
  type ExplainInputFlags,
  type ModelFlags,
  parseTarget,
} from './shared-flags.js';

interface RunFlags extends ConnectionFlags, ExplainInputFlags {
  proxyId?: string;
  runId?: string;
  detach?: boolean;
  retryFailed?: boolean;
  services: 'auto' | 'local' | 'external';
  localWorkers: number;
  json?: boolean;
}

export function registerRun(program: Command): void {
  addConnectionFlags(
    addExplainFlags(
      addModelFlags(
        program
          .command('run')
          .description('Submit a run to the queue-based pipeline and follow it until its report is written'),
      ),
    )
      .option('--proxy-id <id>', 'use an existing proxy set instead of building one')
      .option('--run-id <id>', 'run id (default: derived from the inputs, so re-running resumes)')
      .option('--detach', 'submit and return without waiting')
      .option(
        '--retry-failed',
        'redo the images whose stored result is a failure (default: they count as done)',
      )
      .option(
        '--services <mode>',
        'auto: start local services where none are running | local | external',
        (v) => parseChoice('--services', v, ['auto', 'local', 'external']),
        'auto',
      )
      .option(
        '--local-workers <n>',
        'worker processes to start locally',
        (v) => parsePositiveInt('--local-workers', v),
        1,
      )
      .option('--json', 'print the report as JSON'),
  ).action(async (flags: RunFlags) => {
    const log = logger.child({ cmd: 'run' });
    const session = await openPipelineSession(flags, log);
    const { client, services, progress } = session;
    try {
      if (flags.detach) {
        const refusal = await detachRefusal(flags, client);
        // With --services external the operator says services exist (workers may be scaled to
        // zero until jobs wait, as with KEDA): say what is missing, and submit anyway.
        if (refusal && flags.services === 'external')
          process.stderr.write(`embedcam run --detach: warning: ${refusal}\n`);
        else if (refusal) {
          process.stderr.write(`embedcam run --detach: ${refusal}\n`);
          process.exitCode = 2;
          return;
        }
      } else if (flags.services !== 'external') {
        const live =
          flags.services === 'local' ? { heatmaps: 0, proxies: 0, results: 0 } : await client.liveWorkers();
        if (live.proxies === 0 && !flags.proxyId) services.start('proxy-builder');
        if (live.heatmaps === 0) for (let i = 0; i < flags.localWorkers; i++) services.start('worker');
        if (live.results === 0) services.start('aggregator');
      }
      const target = parseTarget(flags.target);
      const submitted = await client.submitRun({
        ...flags,
        target,
        onProxyProgress: (p) => progress.update('proxies', p.shardsDone, p.shards),
      });
      log.info(
        submitted,
        submitted.enqueued
          ? `run ${submitted.runId}: ${submitted.enqueued} images enqueued`
          : `run ${submitted.runId}: nothing to enqueue`,
      );
      if (flags.detach) {
        process.stdout.write(`${submitted.runId}\n`);
        return;
      }
      let report: Awaited<ReturnType<EmbedcamClient['waitForRun']>>;
      try {
        report = await client.waitForRun(submitted.runId, {
          onProgress: (p) => progress.update('heatmaps', p.done, p.total, p.failed),
        });
      } catch (err) {
        if (!(err instanceof RunStalledError)) throw err;
        progress.stop();
        // A missing service: with --services external nothing here starts one.
        const hint =
          flags.services === 'external' && err.reason.includes('; start `')
            ? ' or run without --services external'
            : '';
        process.stderr.write(`embedcam: ${err.message}${hint}\n`);
        process.exitCode = 1;
        return;
      }
      progress.stop();
      const where = `${client.store.uri.replace(/\/$/, '')}/${storageKeys.report(submitted.runId)}`;
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(report, null, 2)}\n`
          : `${formatSummaryTable(report)}\n\nreport: ${where}\n`,
      );
      if (report.images.processed === 0) process.exitCode = 1;
    } finally {
      await session.close();
    }
  });
}

/**
 * The stored report of a run; a run without one is a UserError that says how far it got (or that
 * neither this store nor this Redis knows it).
 */
async function reportOrProgress(client: EmbedcamClient, runId: string) {
  try {
    return await client.getReport(runId);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
  }
  const p = await client.status(runId);
  if (p.status === 'unknown')
    throw new UserError(
      `run ${runId} has no report in ${client.store.uri} and is unknown to this Redis (prefix ${client.prefix}); check the run id, --storage, --redis-url and --prefix`,
    );
  const failed = p.failed ? `, ${p.failed} failed` : '';
  const why = p.status === 'stalled' && p.stalledReason ? ` (stalled: ${p.stalledReason})` : '';
  throw new UserError(
    `run ${runId} is not finished: ${p.done} of ${p.total} images done${failed}, status ${p.status}${why}; follow it with \`embedcam status ${runId}\` and ask again when it is complete`,
  );
}

/**
 * Why `run --detach` would leave its run to nobody, or undefined when the services it needs are
 * running on their own: local services stop when this command returns, so detaching needs a worker,
 * an aggregator and (when the proxy set is not built yet) a proxy-builder already connected.
 */
async function detachRefusal(flags: RunFlags, client: EmbedcamClient): Promise<string | undefined> {
  const advice =
    'start the services on their own (`embedcam worker`, `embedcam aggregator`, `embedcam proxy-builder`, ' +
    'with the same Redis, storage and prefix), or drop --detach';
  if (flags.services === 'local')
    return `--services local starts services that stop when this command returns, so nothing would process the run; ${advice}.`;
  const live = await client.liveWorkers();
  const missing: string[] = [];
  if (live.heatmaps === 0) missing.push('no worker on the heatmaps queue');
  if (live.results === 0) missing.push('no aggregator on the results queue');
  if (
    live.proxies === 0 &&
    missing.length === 0 &&
    !(await client.hasProxiesFor({ ...flags, target: parseTarget(flags.target) }))
  )
    missing.push('no proxy-builder for the missing proxy set');
  if (missing.length === 0) return undefined;
  return `nothing would process the run (${missing.join(', ')}); ${advice}.`;
}

export function registerRunQueries(program: Command): void {
  addConnectionFlags(program.command('status <runId>').description('Progress of a run (JSON)')).action(
    (runId: string, flags: ConnectionFlags) =>
      withClient(flags, logger, async (client) => {
        const progress = await client.status(runId);
        process.stdout.write(`${JSON.stringify(progress, null, 2)}\n`);
        // The JSON still goes to stdout for scripts; an unknown run is a mistyped id or another
        // Redis/prefix, so the exit code says so.
        if (progress.status === 'unknown')
          throw new UserError(
            `run ${runId} is unknown to this Redis (prefix ${client.prefix}); check the run id, --redis-url and --prefix`,
          );
      }),
  );
  addConnectionFlags(
    program
      .command('report <runId>')
      .description('The report of a finished run')
      .option('--json', 'print the whole report as JSON'),
  ).action((runId: string, flags: ConnectionFlags & { json?: boolean }) =>
    withClient(flags, logger, async (client) => {
      const report = await reportOrProgress(client, runId);
      process.stdout.write(
        flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatSummaryTable(report)}\n`,
      );
    }),
  );
  addConnectionFlags(
    addModelFlags(
      program
        .command('proxies')
        .description('Proxy sets')
        .command('build')
        .description('Build a proxy set through the proxy-builder and print its id'),
    )
      .option('--split <name>', 'reference split', 'train')
      .option('--classes <range>', 'class ids')
      .option('--force', 'rebuild even if it exists')
      .option(
        '--services <mode>',
        'auto | local | external',
        (v) => parseChoice('--services', v, ['auto', 'local', 'external']),
        'auto',
      ),
  ).action(
    async (
      flags: ConnectionFlags &
        ModelFlags & {
          split: string;
          classes?: string;
          force?: boolean;
          services: string;
        },
    ) => {
      const log = logger.child({ cmd: 'proxies build' });
      const session = await openPipelineSession(flags, log);
      const { client, services, progress } = session;
      try {
        if (
          flags.services === 'local' ||
          (flags.services === 'auto' && (await client.liveWorkers()).proxies === 0)
        )
          services.start('proxy-builder');
        const id = await client.buildProxies({
          dataset: path.resolve(flags.dataset),
          split: flags.split,
          classes: flags.classes,
          model: flags.model,
          engine: flags.engine,
          scheme: flags.proxies,
          force: flags.force,
          onProgress: (p) => progress.update('shards', p.shardsDone, p.shards),
        });
        progress.stop();
        process.stdout.write(`${id}\n`);
      } finally {
        await session.close();
      }
    },
  );
}
