import { Command } from 'commander';
import { registerData } from './commands/data.js';
import { registerExplain } from './commands/explain.js';
import { registerRun, registerRunQueries } from './commands/run.js';
import { registerServices } from './commands/services.js';
import { registerTrainHead } from './commands/train-head.js';
import { useDefaultDataset } from './default-dataset.js';
import { formatCommanderError, reportError, wantsStacks } from './report-error.js';
import { VERSION } from './version.js';

// exitOverride and configureOutput are set before the commands are added, so every command
// inherits them: commander's errors become one line (no help page) and reach reportError.
const program = new Command('embedcam')
  .description('EmbeddingCAM heatmaps for embedding networks, over whole datasets')
  .version(VERSION, '-V, --version', 'print the version')
  .option('--verbose', 'print the stack trace of an error (also LOG_LEVEL=debug)')
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(formatCommanderError(text)) });
useDefaultDataset(program);
registerExplain(program);
registerRun(program);
registerRunQueries(program);
registerData(program);
registerServices(program);
registerTrainHead(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err, wantsStacks(process.argv, process.env), (s) => process.stderr.write(s));
}
