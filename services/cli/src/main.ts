import { RedisUnreachableError } from '@embedcam/queues';
import { Command } from 'commander';
import { registerExplain } from './commands/explain.js';
import { registerRun, registerRunQueries } from './commands/run.js';
import { registerServices } from './commands/services.js';
import { registerTrainHead } from './commands/train-head.js';
import { logger } from './logger.js';

const program = new Command('embedcam')
  .description('EmbeddingCAM heatmaps for embedding networks, over whole datasets')
  .showHelpAfterError();
registerExplain(program);
registerRun(program);
registerRunQueries(program);
registerServices(program);
registerTrainHead(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // An unreachable Redis is the user's to fix, not a bug: one line, no stack.
  if (err instanceof RedisUnreachableError) process.stderr.write(`embedcam: ${err.message}\n`);
  else logger.error({ err }, (err as Error).message);
  process.exitCode = 1;
}
