import pino, { type Logger } from 'pino';

/** Structured JSON logs on stderr; services bind `service`, and jobs bind runId / jobId. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service, pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}
export type { Logger };
