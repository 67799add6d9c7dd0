import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatasetError, readManifest } from '../src/index.js';
import { makeTempDir } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});
afterEach(() => cleanup());

async function writeLines(name: string, lines: string[]): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `${lines.join('\n')}\n`, 'utf8');
  return file;
}

async function expectManifestError(lines: string[], line: number): Promise<DatasetError> {
  const file = await writeLines('m.jsonl', lines);
  const err = await readManifest(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  const e = err as DatasetError;
  expect(e.file).toBe(file);
  expect(e.line).toBe(line);
  expect(e.message).toContain(`m.jsonl:${line}: `);
  return e;
}

const ok = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id, uri: `${id}.jpg`, label: 1, ...extra });

describe('readManifest', () => {
  it('reads items, skipping blank and # comment lines', async () => {
    const file = await writeLines('birds.jsonl', [
      '# exported by hand',
      '',
      JSON.stringify({
        id: 'a',
        uri: 'img/a.jpg',
        label: 2,
        className: 'Beta',
        bbox: [1, 2, 3, 4],
        split: 'train',
      }),
      '   ',
      JSON.stringify({ id: 'b', uri: 'img/b.jpg', label: 1 }),
    ]);
    const ds = await readManifest(file);
    expect(ds.name).toBe('birds');
    expect(ds.source).toBe(file);
    expect(ds.items).toEqual([
      {
        id: 'a',
        uri: path.join(dir, 'img', 'a.jpg'),
        label: 2,
        className: 'Beta',
        bbox: [1, 2, 3, 4],
        split: 'train',
      },
      { id: 'b', uri: path.join(dir, 'img', 'b.jpg'), label: 1 },
    ]);
    // Absent optionals are absent keys, not undefined values.
    expect(Object.keys(ds.items[1])).toEqual(['id', 'uri', 'label']);
    expect([...ds.classes]).toEqual([
      [1, '1'],
      [2, 'Beta'],
    ]);
  });

  it('resolves relative uris against the manifest directory, not the cwd', async () => {
    const file = await writeLines('m.jsonl', [
      JSON.stringify({ id: '1', uri: '../elsewhere/x.jpg', label: 1 }),
      JSON.stringify({ id: '2', uri: './sub/y.jpg', label: 1 }),
    ]);
    const ds = await readManifest(path.relative(process.cwd(), file));
    expect(ds.items[0].uri).toBe(path.resolve(dir, '..', 'elsewhere', 'x.jpg'));
    expect(ds.items[1].uri).toBe(path.join(dir, 'sub', 'y.jpg'));
  });

  it('keeps remote uris, converts file:// and keeps absolute paths', async () => {
    const abs = path.join(dir, 'abs dir', 'z.jpg');
    const file = await writeLines('m.jsonl', [
      JSON.stringify({ id: '1', uri: 's3://bucket/key/a.jpg', label: 1 }),
      JSON.stringify({ id: '2', uri: 'https://example.com/b.jpg', label: 1 }),
      JSON.stringify({ id: '3', uri: 'http://example.com/c.jpg', label: 1 }),
      JSON.stringify({ id: '4', uri: pathToFileURL(abs).href, label: 1 }),
      JSON.stringify({ id: '5', uri: abs, label: 1 }),
    ]);
    const ds = await readManifest(file);
    expect(ds.items.map((i) => i.uri)).toEqual([
      's3://bucket/key/a.jpg',
      'https://example.com/b.jpg',
      'http://example.com/c.jpg',
      abs,
      abs,
    ]);
  });

  it('reports invalid JSON with its line', async () => {
    const e = await expectManifestError([ok('a'), '# note', '{"id": "b", uri: }'], 3);
    expect(e.message).toContain('invalid JSON');
  });

  it('reports a missing field by name', async () => {
    const e = await expectManifestError([ok('a'), JSON.stringify({ id: 'b', label: 1 })], 2);
    expect(e.message).toContain('invalid field uri (');
  });

  it('reports a wrongly typed label', async () => {
    const e = await expectManifestError([JSON.stringify({ id: 'b', uri: 'x.jpg', label: '3' })], 1);
    expect(e.message).toContain('invalid field label (');
  });

  it('reports a non-integer label', async () => {
    const e = await expectManifestError([JSON.stringify({ id: 'b', uri: 'x.jpg', label: 1.5 })], 1);
    expect(e.message).toContain('label (');
  });

  it('reports the bad bbox element by index', async () => {
    const e = await expectManifestError([ok('a'), ok('b'), ok('c', { bbox: [0, 0, -3, 4] })], 3);
    expect(e.message).toContain('bbox[2] (');
  });

  it('reports a bbox of the wrong length', async () => {
    const e = await expectManifestError([ok('a', { bbox: [0, 0, 3] })], 1);
    expect(e.message).toContain('bbox');
  });

  it('reports an unknown key (typo) instead of ignoring it', async () => {
    const e = await expectManifestError([ok('a', { spilt: 'train' })], 1);
    expect(e.message).toContain('invalid line (');
    expect(e.message).toContain('spilt');
  });

  it('reports an id that is not well-formed Unicode (it could not become a job id or a key)', async () => {
    const e = await expectManifestError(['{"id": "a\\ud800", "uri": "a.jpg", "label": 1}'], 1);
    expect(e.message).toContain('field id (is not well-formed Unicode');
  });

  it('reports a non-object line', async () => {
    const e = await expectManifestError(['[1, 2]'], 1);
    expect(e.message).toContain('invalid line (');
  });

  it('reports a duplicate id with the first line', async () => {
    const e = await expectManifestError([ok('a'), ok('b'), '', ok('a')], 4);
    expect(e.message).toContain('duplicate id "a" (first on line 1)');
  });

  it('reports an unsupported uri scheme', async () => {
    const e = await expectManifestError([JSON.stringify({ id: 'a', uri: 'ftp://host/a.jpg', label: 1 })], 1);
    expect(e.message).toContain('"ftp://" is not supported');
  });

  it('reports conflicting class names for one label', async () => {
    const e = await expectManifestError(
      [ok('a', { className: 'cat' }), ok('b'), ok('c', { className: 'dog' })],
      3,
    );
    expect(e.message).toContain('line 1 names it "cat"');
  });

  it('reports a missing manifest file', async () => {
    const file = path.join(dir, 'nope.jsonl');
    await expect(readManifest(file)).rejects.toThrow(`${file}: file not found`);
  });
});
