import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CUB_FILES, DatasetError, readCub } from '../src/index.js';
import { type CubFiles, makeTempDir, validCubFiles, writeCub } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});
afterEach(() => cleanup());

async function expectCubError(
  files: Partial<Record<keyof CubFiles, string | null>>,
  file: string,
  line?: number,
) {
  await writeCub(dir, files);
  const err = await readCub(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetError);
  const e = err as DatasetError;
  expect(e.file).toBe(path.join(dir, file));
  expect(e.line).toBe(line);
  expect(e.message).toContain(line === undefined ? `${file}: ` : `${file}:${line}: `);
  expect(e.message).toMatch(/; \S/); // always says how to fix
  return e;
}

describe('readCub', () => {
  it('reads a valid directory into items, in images.txt order', async () => {
    await writeCub(dir, {});
    const ds = await readCub(dir);
    expect(ds.name).toBe(path.basename(dir));
    expect(ds.source).toBe(dir);
    expect(ds.items.map((i) => i.id)).toEqual(['1', '2', '10', '3', '4']);
    expect(ds.items[2]).toEqual({
      id: '10',
      uri: path.join(dir, 'images', '002.Beta', 'b_10.jpg'),
      label: 2,
      className: '002.Beta',
      bbox: [1.5, 2.5, 3.5, 4.5],
      split: 'train',
    });
    expect(ds.items.map((i) => i.split)).toEqual(['train', 'test', 'train', 'test', 'train']);
    expect([...ds.classes]).toEqual([
      [1, '001.Alpha'],
      [2, '002.Beta'],
      [3, '003.Gamma'],
    ]);
  });

  it('resolves a relative directory to absolute uris', async () => {
    await writeCub(dir, {});
    const ds = await readCub(path.relative(process.cwd(), dir));
    expect(path.isAbsolute(ds.items[0].uri)).toBe(true);
    expect(ds.items[0].uri).toBe(path.join(dir, 'images', '001.Alpha', 'a_1.jpg'));
  });

  it('tolerates CRLF line endings, blank lines and a BOM', async () => {
    const files = validCubFiles();
    await writeCub(dir, {
      'images.txt': `\uFEFF${files['images.txt'].replaceAll('\n', '\r\n')}\r\n\r\n`,
      'classes.txt': `\n${files['classes.txt']}\n\n`,
    });
    const ds = await readCub(dir);
    expect(ds.items).toHaveLength(5);
    expect(ds.items[0].uri.endsWith('a_1.jpg')).toBe(true);
  });

  it.each(CUB_FILES)('names a missing %s', async (name) => {
    const e = await expectCubError({ [name]: null }, name);
    expect(e.message).toContain('file not found');
  });

  it('reports a wrong field count with file and line', async () => {
    const e = await expectCubError(
      { 'bounding_boxes.txt': '1 10 20 30 40\n2 0 0 5' },
      'bounding_boxes.txt',
      2,
    );
    expect(e.message).toContain('expected 5 fields but found 4');
  });

  it('reports a non-numeric image id', async () => {
    const e = await expectCubError(
      { 'images.txt': '1 001.Alpha/a_1.jpg\nx2 001.Alpha/a_2.jpg' },
      'images.txt',
      2,
    );
    expect(e.message).toContain('image_id "x2"');
  });

  it('reports a non-numeric bounding box value', async () => {
    const e = await expectCubError(
      { 'bounding_boxes.txt': '1 10 20 30 40\n2 0 0 5 5\n10 1 2 abc 4\n3 1 1 1 1\n4 0 0 9 9' },
      'bounding_boxes.txt',
      3,
    );
    expect(e.message).toContain('width "abc" is not a number');
  });

  it('reports an empty bounding box', async () => {
    const e = await expectCubError(
      { 'bounding_boxes.txt': '1 10 20 30 40\n2 0 0 0 5\n10 1 2 3 4\n3 1 1 1 1\n4 0 0 9 9' },
      'bounding_boxes.txt',
      2,
    );
    expect(e.message).toContain('empty');
  });

  it('reports an is_training_image other than 0/1', async () => {
    const e = await expectCubError(
      { 'train_test_split.txt': '1 1\n2 0\n10 2\n3 0\n4 1' },
      'train_test_split.txt',
      3,
    );
    expect(e.message).toContain('is_training_image "2"');
  });

  it('reports a duplicate id with both lines', async () => {
    const e = await expectCubError(
      { 'image_class_labels.txt': '1 1\n2 1\n10 2\n3 2\n2 3\n4 3' },
      'image_class_labels.txt',
      5,
    );
    expect(e.message).toContain('duplicate image_id 2 (first on line 2)');
  });

  it('reports a duplicate class id', async () => {
    const e = await expectCubError(
      { 'classes.txt': '1 001.Alpha\n2 002.Beta\n3 003.Gamma\n2 002.Again' },
      'classes.txt',
      4,
    );
    expect(e.message).toContain('duplicate class_id 2');
  });

  it('reports an image missing from another file at its images.txt line, naming that file', async () => {
    const e = await expectCubError(
      { 'bounding_boxes.txt': '1 1 1 1 1\n2 1 1 1 1\n10 1 1 1 1\n4 1 1 1 1' },
      'images.txt',
      4,
    );
    expect(e.message).toContain('image_id 3 has no line in bounding_boxes.txt');
  });

  it('reports an id in another file that images.txt does not list', async () => {
    const e = await expectCubError(
      { 'train_test_split.txt': '1 1\n2 0\n10 1\n3 0\n4 1\n99 0' },
      'train_test_split.txt',
      6,
    );
    expect(e.message).toContain('image_id 99 is not listed in images.txt');
  });

  it('reports an unknown class id at the image_class_labels.txt line', async () => {
    const e = await expectCubError(
      { 'image_class_labels.txt': '1 1\n2 1\n10 7\n3 2\n4 3' },
      'image_class_labels.txt',
      3,
    );
    expect(e.message).toContain('class_id 7 of image 10 is not in classes.txt');
  });

  it('refuses image names that escape images/', async () => {
    const e = await expectCubError(
      { 'images.txt': '1 001.Alpha/a_1.jpg\n2 ../../etc/passwd' },
      'images.txt',
      2,
    );
    expect(e.message).toContain('outside images/');
  });
});
