import type { Logger } from 'pino';

/** Anything a service start function returns. `force` hands in-flight work back at once. */
export interface Service {
  close(opts?: { force?: boolean }): Promise<void>;
}

export interface RunServiceOptions {
  /** Named in the log lines. */
  name: string;
  log: Logger;
  /** Runs after the service closed (e.g. stop a private Redis, close a store opened for it). */
  afterClose?: () => Promise<void>;
  /** Test hook instead of process.exit. */
  exit?: (code: number) => void;
  /** How long a forced close may take before the process exits anyway (default 10 s). */
  forceExitMs?: number;
}

/**
 * Keeps a service running until it is told to stop, then closes it, for every service process and
 * for the CLI's local services alike:
 * - SIGTERM / SIGINT, or the parent going away (a child started with an IPC channel, as
 *   `embedcam run` and the tests start them): close gracefully, then exit 0 (1 if closing failed);
 * - a second signal: close with `force` (in-flight work handed back at once); exit 0 once closed,
 *   1 if that takes longer than forceExitMs;
 * - a third: exit 1 at once.
 * The parent going away never escalates: on Ctrl-C a child gets SIGINT and loses its parent at
 * the same moment, and that is one request to stop, not two.
 * Returns a function that removes the listeners (tests).
 */
export function runService(service: Service, opts: RunServiceOptions): () => void {
  const { name, log } = opts;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let closing = false;
  const closeGracefully = (why: string) => {
    if (closing) return;
    closing = true;
    log.info(
      { service: name, why },
      `${name}: finishing in-flight work, then exiting (signal again to hand it back now)`,
    );
    service
      .close()
      .then(() => opts.afterClose?.())
      .then(
        () => exit(0),
        (err) => {
          log.error({ service: name, err: (err as Error).message }, `${name}: error while closing`);
          exit(1);
        },
      );
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) closeGracefully(signal);
    else if (signals === 2) {
      log.warn({ service: name, why: signal }, `${name}: second signal: handing in-flight work back now`);
      void service.close({ force: true }).catch(() => {});
      setTimeout(() => exit(1), opts.forceExitMs ?? 10_000).unref();
    } else exit(1);
  };
  const onDisconnect = () => closeGracefully('parent exited');
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (process.connected) process.once('disconnect', onDisconnect);
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('disconnect', onDisconnect);
  };
}
