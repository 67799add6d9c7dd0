import pino from 'pino';

/** Structured logs on stderr (stdout stays free for command output). LOG_LEVEL sets the level. */
export const logger = pino(
  { level: process.env.LOG_LEVEL ?? 'info', base: undefined },
  pino.destination({ fd: 2, sync: true }),
);
