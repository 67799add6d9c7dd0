import { existsSync } from 'node:fs';
import path from 'node:path';
import { sharedDir } from '@embedcam/cam';
import { embedcamHome } from '@embedcam/config';
import type { Command } from 'commander';
import { UserError } from './user-error.js';

/** The shared CUB-200-2011 subset (classes 1–30), where ../shared exists. */
export const sharedSubsetDir = () => path.join(sharedDir(), 'data/cub200-subset');

/** Where `embedcam data fetch cub` extracts CUB-200-2011: `<EMBEDCAM_HOME>/data/CUB_200_2011`. */
export const fetchedCubDir = (env: NodeJS.ProcessEnv = process.env) =>
  path.join(embedcamHome(env), 'data', 'CUB_200_2011');

export const DATASET_HELP =
  'CUB-200-2011 directory or JSONL manifest (default: the shared subset where it exists, else the CUB fetched by `embedcam data fetch cub`)';

/** The dataset a command uses when none is given: the shared subset, else the fetched CUB, else none. */
export function defaultDataset(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return [sharedSubsetDir(), fetchedCubDir(env)].find((d) => existsSync(path.join(d, 'images.txt')));
}

/**
 * Fills in --dataset for every command that has it and was not given one, or stops with one line
 * naming the command that gets a dataset. Installed once on the program (a preAction hook).
 */
export function useDefaultDataset(program: Command): void {
  program.hook('preAction', (_program, command) => {
    if (!command.options.some((o) => o.attributeName() === 'dataset')) return;
    if (command.getOptionValue('dataset') !== undefined) return;
    const found = defaultDataset();
    if (!found)
      throw new UserError(
        'no dataset: run `embedcam data fetch cub` to download CUB-200-2011 (1.1 GB), or pass --dataset <dir|manifest>',
      );
    command.setOptionValue('dataset', found);
  });
}
