import cliProgress from 'cli-progress';
import type { Logger } from 'pino';

export interface Progress {
  update(phase: string, done: number, total: number, failed?: number): void;
  stop(): void;
}

/** A progress bar on a TTY; elsewhere (CI, pipes) a log line every 10%. */
export function createProgress(log: Logger, enabled = process.stderr.isTTY): Progress {
  let bar: cliProgress.SingleBar | undefined;
  let barPhase = '';
  let lastLogged = -1;
  return {
    update(phase, done, total, failed = 0) {
      if (enabled) {
        if (phase !== barPhase) {
          bar?.stop();
          bar = new cliProgress.SingleBar(
            {
              format: `${phase.padEnd(9)} [{bar}] {value}/{total} {percentage}% | ETA {eta_formatted} | failed {failed}`,
              stream: process.stderr,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total, 0, { failed });
          barPhase = phase;
        }
        bar!.update(done, { failed });
        return;
      }
      const decile = total ? Math.floor((done / total) * 10) : 10;
      if (phase !== barPhase) {
        barPhase = phase;
        lastLogged = -1;
      }
      if (decile > lastLogged) {
        lastLogged = decile;
        log.info({ phase, done, total, failed }, `${phase}: ${done}/${total}`);
      }
    },
    stop() {
      bar?.stop();
    },
  };
}
