// `npm run package`: the one public package, `embedcam`, as dist/embedcam-<version>.tgz. The
// workspaces are bundled (esbuild, one file per entry, so import.meta.dirname is dist/ in each) into dist/cli.js (the command), dist/index.js (the client API)
// and dist/thread-entry.mjs (a compute thread); npm packages stay external dependencies, at the
// versions the workspaces ask for. Type declarations come from tsc, with @embedcam/* imports turned
// into paths inside the package. The bundled model and the Lua scripts are copied beside them.
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const out = path.join(root, 'dist', 'package');
const rootPkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));

/** Every workspace's package.json, by name. */
const workspaces = new Map<string, { dir: string; pkg: Record<string, any> }>();
for (const group of ['shared', 'services']) {
  for (const name of await readdir(path.join(root, group))) {
    const dir = path.join(root, group, name);
    const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'));
    workspaces.set(pkg.name, { dir, pkg });
  }
}

/** The npm package a bare import names ("@aws-sdk/client-s3/x" → "@aws-sdk/client-s3"). */
const packageOf = (spec: string) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');
const externals = new Set<string>();
const externalNpm: Plugin = {
  name: 'external-npm',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:') || args.path.startsWith('@embedcam/')) return undefined;
      externals.add(packageOf(args.path));
      return { path: args.path, external: true };
    });
  },
};

await rm(out, { recursive: true, force: true });
await mkdir(path.join(out, 'dist', 'commands'), { recursive: true });
const common = {
  bundle: true,
  platform: 'node' as const,
  format: 'esm' as const,
  target: 'node20',
  plugins: [externalNpm],
  logLevel: 'warning' as const,
  // Bundled CommonJS code (if any) still finds require().
  banner: {
    js: "import { createRequire as __ecRequire } from 'node:module'; const require = __ecRequire(import.meta.url);",
  },
};
await build({
  ...common,
  entryPoints: { cli: 'services/cli/src/main.ts', index: 'services/cli/src/package-api.ts' },
  outdir: path.join(out, 'dist'),
  absWorkingDir: root,
});
await build({
  ...common,
  entryPoints: ['shared/compute/src/compute-thread.ts'],
  outfile: path.join(out, 'dist', 'thread-entry.mjs'),
  absWorkingDir: root,
});

// Files the code finds beside itself: Lua scripts (dist/commands), the default model (models/).
for (const dir of ['shared/queues/src/commands', 'services/aggregator/src/commands'])
  for (const f of await readdir(path.join(root, dir)))
    await cp(path.join(root, dir, f), path.join(out, 'dist', 'commands', f));
await cp(path.join(root, 'shared/cam/models'), path.join(out, 'models'), { recursive: true });
await mkdir(path.join(out, 'bin'));
await writeFile(
  path.join(out, 'bin', 'embedcam.js'),
  "#!/usr/bin/env node\nawait import('../dist/cli.js');\n",
  {
    mode: 0o755,
  },
);

// Declarations: tsc over the workspaces' sources, then @embedcam/<name> → a relative path.
const types = path.join(out, 'types');
execFileSync(
  process.execPath,
  [
    path.join(root, 'node_modules/typescript/bin/tsc'),
    '-p',
    'tsconfig.json',
    '--noEmit',
    'false',
    '--declaration',
    '--emitDeclarationOnly',
    '--rootDir',
    '.',
    '--outDir',
    types,
  ],
  { cwd: root, stdio: 'inherit' },
);
await rm(path.join(types, 'test'), { recursive: true, force: true });
for (const t of ['scripts', 'bench']) await rm(path.join(types, t), { recursive: true, force: true });
async function* walk(dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else yield p;
  }
}
for await (const file of walk(types)) {
  if (/\/(test|bench)\//.test(file)) {
    await rm(file);
    continue;
  }
  const text = await readFile(file, 'utf8');
  const fixed = text.replace(/(['"])@embedcam\/([a-z-]+)(\/[a-z-]+)?\1/g, (m, q, name, sub) => {
    const ws = workspaces.get(`@embedcam/${name}`);
    const target = ws?.pkg.exports?.[sub ? `.${sub}` : '.'];
    if (!ws || typeof target !== 'string') return m;
    const abs = path.join(types, path.relative(root, ws.dir), target.replace(/\.ts$/, '.js'));
    let rel = path.relative(path.dirname(file), abs);
    if (!rel.startsWith('.')) rel = `./${rel}`;
    return `${q}${rel}${q}`;
  });
  if (fixed !== text) await writeFile(file, fixed);
}
await writeFile(
  path.join(out, 'dist', 'index.d.ts'),
  "export * from '../types/services/cli/src/package-api.js';\n",
);

// Dependencies: each external package at the range a workspace lists for it.
const dependencies: Record<string, string> = {};
for (const name of [...externals].sort()) {
  const range = [...workspaces.values()]
    .map((w) => w.pkg.dependencies?.[name] ?? w.pkg.devDependencies?.[name])
    .find((r) => r !== undefined && r !== '*');
  if (!range) throw new Error(`package: no workspace lists ${name}; add it to the workspace that imports it`);
  dependencies[name] = range;
}
const pkg = {
  name: 'embedcam',
  version: rootPkg.version,
  description: rootPkg.description,
  type: 'module',
  license: 'UNLICENSED',
  engines: { node: '>=20.9' },
  bin: { embedcam: './bin/embedcam.js' },
  exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } },
  types: './dist/index.d.ts',
  files: ['bin', 'dist', 'models', 'types', 'README.md'],
  dependencies,
};
await writeFile(path.join(out, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
await cp(path.join(root, 'README.md'), path.join(out, 'README.md'));
const packed = execFileSync('npm', ['pack', '--pack-destination', path.join(root, 'dist'), '--silent'], {
  cwd: out,
  encoding: 'utf8',
}).trim();
process.stdout.write(`${path.join(root, 'dist', packed.split('\n').at(-1) ?? '')}\n`);
