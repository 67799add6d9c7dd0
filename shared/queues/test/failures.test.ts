import { describe, expect, it } from 'vitest';
import { classifyFailure, isPermanent } from '../src/failures.js';

const named = (name: string, message: string, extra: object = {}) =>
  Object.assign(Object.assign(new Error(message), { name }), extra);
const item = { id: 'img-1', uri: '/data/a.jpg' };

describe('classifyFailure: the one failure taxonomy', () => {
  it('takes an error that states its code and permanence at its word', () => {
    expect(
      classifyFailure(named('JobFailure', 'no run.json', { code: 'run-not-found', permanent: false })),
    ).toEqual({
      code: 'run-not-found',
      message: 'no run.json',
      permanent: false,
    });
    expect(
      classifyFailure(named('ForbiddenInputError', 'outside', { code: 'forbidden', permanent: true })),
    ).toMatchObject({
      code: 'forbidden',
      permanent: true,
    });
  });

  it('known domain errors are permanent with their code', () => {
    expect(classifyFailure(named('BoxError', 'box outside'))).toMatchObject({
      code: 'bad-box',
      permanent: true,
    });
    expect(classifyFailure(named('UnknownClassError', 'no proxy'))).toMatchObject({
      code: 'unknown-class',
      permanent: true,
    });
    expect(classifyFailure(named('ImageError', 'Image x: bad', { code: 'corrupt' }))).toMatchObject({
      code: 'corrupt',
      permanent: true,
    });
    expect(classifyFailure(named('UnsupportedUriError', 'ftp://'), item)).toEqual({
      code: 'bad-uri',
      message: 'Image img-1: ftp://',
      permanent: true,
    });
  });

  it('a missing file is not-found, with the image and the fix named', () => {
    const enoent = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    expect(classifyFailure(enoent, item)).toEqual({
      code: 'not-found',
      message: 'image /data/a.jpg not found (image id img-1); fix its path or URI',
      permanent: true,
    });
    expect(classifyFailure(named('NotFoundError', 'Not found: "k"'), item).message).toBe(
      'Image img-1 (/data/a.jpg): Not found: "k"; fix its path or URI',
    );
  });

  it('anything else is a transient error, retried', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(classifyFailure(reset)).toEqual({ code: 'error', message: 'socket hang up', permanent: false });
    expect(isPermanent(named('ComputeThreadError', 'thread died', { permanent: false }))).toBe(false);
    expect(isPermanent(named('StorageError', 'denied', { permanent: true }))).toBe(true);
    expect(classifyFailure('plain string').message).toBe('plain string');
    expect(classifyFailure(new Error('x'.repeat(3000))).message).toHaveLength(2000);
  });
});
