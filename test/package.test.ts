// The installable package: `npm run package` writes dist/embedcam-<version>.tgz; installed from it
// in an empty directory outside the repository, the CLI and the client API work with plain node.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

describe('the embedcam package', { timeout: 600_000 }, () => {
  let dir: string;
  let tgz: string;
  const env = {
    ...process.env,
    ONNXRUNTIME_NODE_INSTALL: 'skip',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  };
  beforeAll(async () => {
    const version = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')).version;
    const printed = execFileSync('npm', ['run', '--silent', 'package'], { cwd: root, env, encoding: 'utf8' });
    tgz = path.join(root, 'dist', `embedcam-${version}.tgz`);
    expect(printed.trim().split('\n').at(-1)).toBe(tgz);
    expect(existsSync(tgz)).toBe(true);
    dir = await mkdtemp(path.join(os.tmpdir(), 'embedcam-install-'));
    await writeFile(
      path.join(dir, 'package.json'),
      '{"name":"try-embedcam","private":true,"type":"module"}\n',
    );
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tgz], {
      cwd: dir,
      env,
      stdio: 'pipe',
    });
  }, 600_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('npx embedcam --help and --version run on plain node (no tsx)', () => {
    const help = execFileSync('npx', ['embedcam', '--help'], { cwd: dir, env, encoding: 'utf8' });
    expect(help).toMatch(/Usage: embedcam/);
    expect(help).toMatch(/data\s/);
    const installed = path.join(dir, 'node_modules', 'embedcam');
    expect(existsSync(path.join(installed, 'node_modules', 'tsx'))).toBe(false);
    expect(existsSync(path.join(installed, 'models', 'mobilenetv2-035-imagenet', 'model.onnx'))).toBe(true);
    expect(existsSync(path.join(installed, 'dist', 'index.d.ts'))).toBe(true);
  });

  it("import('embedcam') gives the client API", () => {
    const out = execFileSync(
      process.execPath,
      ['-e', "import('embedcam').then((m) => console.log(typeof m.EmbedcamClient, typeof m.loadConfig))"],
      { cwd: dir, env, encoding: 'utf8' },
    );
    expect(out).toBe('function function\n');
  });

  it('a user mistake from the installed CLI is one line, exit code 2', () => {
    let status = 0;
    let stderr = '';
    try {
      execFileSync('npx', ['embedcam', 'run', '--limt', '3'], {
        cwd: dir,
        env,
        encoding: 'utf8',
        stdio: 'pipe',
      });
    } catch (err) {
      status = (err as { status: number }).status;
      stderr = String((err as { stderr: string }).stderr);
    }
    expect(status).toBe(2);
    expect(stderr).toBe("embedcam: unknown option '--limt' (did you mean --limit?)\n");
  });
});
