import { EmbedcamClient } from '@embedcam/client';
import type { Logger } from 'pino';
import { createProgress, type Progress } from '../progress.js';
import { ServiceLauncher, serviceEnv } from '../service-launcher.js';
import { type ConnectedConfig, type ConnectionFlags, connect } from './pipeline-options.js';

/** What `run` and `proxies build` work with: a connected client, local services and a progress bar. */
export interface PipelineSession {
  config: ConnectedConfig;
  client: EmbedcamClient;
  /** Services this command starts as its children (none until asked). */
  services: ServiceLauncher;
  progress: Progress;
  /** Ends all of it, in order: the bar, the local services, the client, a private Redis. */
  close(): Promise<void>;
}

export async function openPipelineSession(flags: ConnectionFlags, log: Logger): Promise<PipelineSession> {
  const { config, redis } = await connect(flags, log);
  const client = new EmbedcamClient(config);
  const services = new ServiceLauncher({ env: serviceEnv(config), output: 'inherit', log });
  const progress = createProgress(log);
  return {
    config,
    client,
    services,
    progress,
    async close() {
      progress.stop();
      await services.stopAll();
      await client.close();
      await redis.stop();
    },
  };
}

/** Runs `fn` with a connected client (status, report), then closes it and a private Redis. */
export async function withClient<T>(
  flags: ConnectionFlags,
  log: Logger,
  fn: (client: EmbedcamClient) => Promise<T>,
): Promise<T> {
  const { config, redis } = await connect(flags, log);
  const client = new EmbedcamClient(config);
  try {
    return await fn(client);
  } finally {
    await client.close();
    await redis.stop();
  }
}
