import type { Command } from 'commander';

export function registerData(program: Command): void {
  program.command('data').description('Datasets: download and cache them');
}
