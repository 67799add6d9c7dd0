import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { CUB_URL, fetchCub } from '../data-fetch/fetch-cub.js';
import { UserError } from '../user-error.js';

export function registerData(program: Command): void {
  const data = program.command('data').description('Datasets: download and cache them');
  data
    .command('fetch')
    .description('Download a dataset into EMBEDCAM_HOME (default ~/.embedcam) and print its path')
    .argument('<name>', 'the dataset: cub (CUB-200-2011, about 1.1 GB)')
    .option('--url <url>', `a mirror of the archive (default ${CUB_URL})`)
    .option('--file <archive>', 'an archive already downloaded (CUB_200_2011.tgz)')
    .option('--md5 <hex>', 'the MD5 the archive must have (default: the official one)')
    .action(async (name: string, flags: { url?: string; file?: string; md5?: string }) => {
      if (name !== 'cub') throw new UserError(`unknown dataset "${name}"; the one embedcam fetches is: cub`);
      const bar = new SingleBar({
        format: 'CUB-200-2011 [{bar}] {percentage}% {value}/{total} MB',
        stream: process.stderr,
        hideCursor: true,
      });
      let started = false;
      const mb = (n: number) => Math.round(n / 1e5) / 10;
      try {
        const dir = await fetchCub({
          ...flags,
          say: (line) => process.stderr.write(`${line}\n`),
          onProgress: (p) => {
            if (!started) {
              started = true;
              bar.start(mb(p.total ?? 0), mb(p.received));
            } else bar.update(mb(p.received));
          },
        });
        bar.stop();
        process.stdout.write(`${dir}\n`);
      } finally {
        if (started) bar.stop();
      }
    });
}
