import { RedisUnreachableError } from '@embedcam/queues';
import { CommanderError } from 'commander';
import { oneLine, userMistake } from './user-error.js';

/** Stack traces are for --verbose or LOG_LEVEL=debug/trace only. */
export function wantsStacks(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  return argv.includes('--verbose') || env.LOG_LEVEL === 'debug' || env.LOG_LEVEL === 'trace';
}

/**
 * The one place where a command's error becomes output and an exit code: a user's mistake is one
 * line and exit code 2; an unreachable Redis one line and 1; anything else one line and 1, with the
 * stack only when `verbose`. Commander's own errors (unknown flag, bad value) were already printed
 * by its outputError, as one line (see formatCommanderError).
 */
export function reportError(err: unknown, verbose: boolean, write: (s: string) => void): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  const stack = verbose && err instanceof Error && err.stack ? `${err.stack}\n` : '';
  const mistake = userMistake(err);
  if (mistake !== undefined) {
    write(`embedcam: ${mistake}\n${stack}`);
    return 2;
  }
  if (err instanceof RedisUnreachableError) {
    write(`embedcam: ${err.message}\n${stack}`);
    return 1;
  }
  const message = oneLine(err instanceof Error ? err.message : String(err)) || String(err);
  write(
    verbose
      ? `embedcam: ${message}\n${stack}`
      : `embedcam: ${message} (--verbose or LOG_LEVEL=debug shows the stack)\n`,
  );
  return 1;
}

/**
 * Commander's error text ("error: unknown option '--limt'\n(Did you mean --limit?)") as one line,
 * without the help page: `embedcam: unknown option '--limt' (did you mean --limit?)`.
 */
export function formatCommanderError(text: string): string {
  const line = oneLine(
    text.replace(/^error: /, '').replace(/\s*\(Did you mean (.+?)\?\)/s, ' (did you mean $1?)'),
  );
  return `embedcam: ${line}\n`;
}
