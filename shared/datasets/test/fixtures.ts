import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A fresh temp directory per test; `cleanup` removes it. */
export async function makeTempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'embedcam-datasets-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export type CubFiles = Record<
  'images.txt' | 'image_class_labels.txt' | 'bounding_boxes.txt' | 'train_test_split.txt' | 'classes.txt',
  string
>;

/** A small valid CUB layout: 5 images over 3 classes, ids deliberately not in file order. */
export function validCubFiles(): CubFiles {
  return {
    'classes.txt': ['1 001.Alpha', '2 002.Beta', '3 003.Gamma'].join('\n'),
    'images.txt': [
      '1 001.Alpha/a_1.jpg',
      '2 001.Alpha/a_2.jpg',
      '10 002.Beta/b_10.jpg',
      '3 002.Beta/b_3.jpg',
      '4 003.Gamma/c_4.jpg',
    ].join('\n'),
    'image_class_labels.txt': ['1 1', '2 1', '10 2', '3 2', '4 3'].join('\n'),
    'bounding_boxes.txt': [
      '1 10.0 20.0 30.0 40.0',
      '2 0 0 5 5',
      '10 1.5 2.5 3.5 4.5',
      '3 1 1 1 1',
      '4 0 0 9 9',
    ].join('\n'),
    'train_test_split.txt': ['1 1', '2 0', '10 1', '3 0', '4 1'].join('\n'),
  };
}

/** Writes the CUB files (any file set to null is left out) into dir. */
export async function writeCub(
  dir: string,
  files: Partial<Record<keyof CubFiles, string | null>>,
): Promise<void> {
  const all = { ...validCubFiles(), ...files };
  for (const [name, content] of Object.entries(all)) {
    if (content !== null) await writeFile(path.join(dir, name), `${content}\n`, 'utf8');
  }
}
