import type { z } from 'zod';

/** "bbox.2: Too small; label: Expected number" — each issue with the path of the field it concerns. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/**
 * Issues of a settings object read from variables (environment or flags): each names the variable
 * and the value it got, so the person who set it can see what to fix.
 */
export function formatSettingIssues(error: z.ZodError, raw: Record<string, unknown>): string[] {
  return error.issues.map((i) => {
    const key = String(i.path[0] ?? '');
    const got = `(got "${raw[key]}")`;
    return i.message.includes(key) ? `${i.message} ${got}` : `${key}: ${i.message} ${got}`;
  });
}
