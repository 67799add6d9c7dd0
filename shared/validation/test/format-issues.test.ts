import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { formatIssues, formatSettingIssues } from '../src/index.js';

describe('formatIssues', () => {
  it('names the path of each issue, (root) for the whole value', () => {
    const schema = z.object({ a: z.number(), b: z.array(z.string()) });
    const r = schema.safeParse({ a: 'x', b: [1] });
    expect(r.success).toBe(false);
    const msg = formatIssues(r.error!);
    expect(msg).toMatch(/^a: .*number.*; b\.0: .*string/);
    expect(formatIssues(z.string().safeParse(3).error!)).toMatch(/^\(root\): /);
  });
});

describe('formatSettingIssues', () => {
  it('names the variable once and quotes what it got', () => {
    const schema = z.object({
      PORT: z.coerce.number().int('PORT must be an integer'),
      MODE: z.enum(['a', 'b']),
    });
    const raw = { PORT: '1.5', MODE: 'c' };
    const lines = formatSettingIssues(schema.safeParse(raw).error!, raw);
    expect(lines).toEqual([
      expect.stringMatching(/^PORT must be an integer \(got "1.5"\)$/),
      expect.any(String),
    ]);
    expect(lines[1]).toMatch(/^MODE: .* \(got "c"\)$/);
  });
});
