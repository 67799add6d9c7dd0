// Reads vitest's JSON report (argv[2]) and says what ran: the skipped tests by file, then
// `N passed, N failed, N skipped` as the last line, so a green run that skipped its core shows.
// Exits non-zero when the report is missing or records a failure. Plain Node: runs before and
// without any build.
import { readFileSync } from 'node:fs';
import path from 'node:path';

const file = process.argv[2];
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.log(
    `test summary: no vitest report at ${file} (${err.message}); the run stopped before its tests.`,
  );
  process.exit(1);
}

const SKIPPED = new Set(['pending', 'skipped', 'todo', 'disabled']);
let passed = 0;
let failed = 0;
let skipped = 0;
const skippedByFile = new Map();
const brokenFiles = [];
for (const result of report.testResults ?? []) {
  const rel = path.relative(process.cwd(), result.name);
  let failedHere = 0;
  for (const test of result.assertionResults ?? []) {
    if (test.status === 'passed') passed++;
    else if (test.status === 'failed') {
      failed++;
      failedHere++;
    } else if (SKIPPED.has(test.status)) {
      skipped++;
      skippedByFile.set(rel, [...(skippedByFile.get(rel) ?? []), test.fullName]);
    }
  }
  // A file that failed to load (an import that throws, a failing beforeAll) has no failed test;
  // count it as one failure so the last line cannot read "0 failed" on a red run.
  if (result.status === 'failed' && failedHere === 0) brokenFiles.push(rel);
}
failed += brokenFiles.length;

if (skippedByFile.size > 0) {
  console.log('Skipped tests:');
  for (const [rel, names] of skippedByFile) {
    const shown = names.slice(0, 3).join(' | ');
    console.log(`  ${rel} (${names.length}): ${shown}${names.length > 3 ? ' | …' : ''}`);
  }
}
for (const rel of brokenFiles) console.log(`Failed to run: ${rel}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || report.success === false ? 1 : 0);
