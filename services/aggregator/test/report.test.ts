import { runKeys } from '@embedcam/queues';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countResult } from '../src/count-result.js';
import { buildReport, csvField, IMAGES_CSV_COLUMNS, imagesCsv, readRunState } from '../src/report.js';
import { failedRow, type ImageRow, okRow, parseImageResult } from '../src/rows.js';
import { countDirectly } from './counting.js';
import {
  expectClose,
  loadExplainFixture,
  referenceSummary,
  syntheticResults,
  type TestEnv,
  testEnv,
} from './helpers.js';

/** A minimal RFC 4180 reader (quoted fields, doubled quotes, CRLF inside quotes). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field !== '' || row.length > 0) throw new Error('CSV does not end with CRLF');
  return rows;
}

describe('report from Redis counters', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await testEnv();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('equals summary.json of the one-process `embedcam explain` on the same images', async () => {
    const fx = loadExplainFixture();
    expect(fx.results.length).toBe(31);
    expect(fx.failures.map((f) => f.code).sort()).toEqual([
      'bad-box',
      'corrupt',
      'not-found',
      'unknown-class',
    ]);
    const k = runKeys(t.prefix, 'cub');
    // Reverse order, so nothing depends on arrival order.
    await countDirectly(t, 'cub', [...fx.results].reverse());
    for (const f of fx.failures) {
      await countResult(t.redis, k, {
        status: 'failed',
        imageId: f.id,
        label: f.label,
        row: JSON.stringify(failedRow(f)),
      });
    }
    const state = await readRunState(t.redis, t.prefix, 'cub');
    expect(state.done).toBe(35);
    const report = buildReport(state, { run: fx.summary.run, tau: 0.2 });
    // Same keys, same order of every list, numbers to 1e-9 (sums are added up in another order).
    expectClose(report, fx.summary, 1e-9);
    expect(JSON.stringify(Object.keys(report))).toBe(JSON.stringify(Object.keys(fx.summary)));
    expect(report.perClass.map((c) => c.label)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(report.images).toEqual({ selected: 35, processed: 31, failed: 4, withBox: 30 });
    // And RunSummaryBuilder fed the same results agrees too.
    expectClose(report, { ...referenceSummary(fx.results, fx.failures), run: fx.summary.run }, 1e-9);
  });

  it('uses the run τ for GT-known Loc (checked against the reference at τ = 0.5)', async () => {
    const results = syntheticResults(60, 3);
    await countDirectly(t, 'tau', results);
    const state = await readRunState(t.redis, t.prefix, 'tau');
    const at05 = buildReport(state, { run: {}, tau: 0.5 });
    expectClose(at05, referenceSummary(results, [], 0.5), 1e-9);
    const at02 = buildReport(state, { run: {} });
    expect(at05.metrics!.gtKnownLoc.tau).toBe(0.5);
    expect(at02.metrics!.gtKnownLoc.tau).toBe(0.2);
    // The synthetic maps do localise differently at the two thresholds (so τ really matters here).
    expect(at05.metrics!.gtKnownLoc.value).not.toBe(at02.metrics!.gtKnownLoc.value);
  });

  it('images.csv: header, one RFC 4180 row per image in id order, failures with their reason', () => {
    const [a, b] = syntheticResults(2, 4);
    const rows: ImageRow[] = [
      failedRow({
        id: '10',
        uri: 'x/ten.jpg',
        label: 3,
        code: 'corrupt',
        message: 'cannot decode, "truncated"\nline 2',
      }),
      okRow(parseImageResult(JSON.stringify({ ...a, id: '9', className: 'Sooty, the "albatross"' }))),
      okRow(parseImageResult(JSON.stringify({ ...b, id: '2', bbox: undefined, metrics: null }))),
    ];
    const csv = imagesCsv(rows);
    expect(csv.endsWith('\r\n')).toBe(true);
    const parsed = parseCsv(csv);
    expect(parsed[0]).toEqual([...IMAGES_CSV_COLUMNS]);
    expect(parsed.slice(1).map((r) => r[0])).toEqual(['2', '9', '10']);
    const col = (row: string[], name: (typeof IMAGES_CSV_COLUMNS)[number]) =>
      row[IMAGES_CSV_COLUMNS.indexOf(name)];
    for (const r of parsed) expect(r.length).toBe(IMAGES_CSV_COLUMNS.length);
    const [, noBox, nine, ten] = parsed;
    expect(col(noBox, 'hasBox')).toBe('false');
    expect(col(noBox, 'energyRatio')).toBe('');
    expect(col(nine, 'className')).toBe('Sooty, the "albatross"');
    expect(Number(col(nine, 'energyRatio'))).toBe(a.metrics!.energyRatio);
    expect(col(nine, 'status')).toBe('ok');
    expect(col(ten, 'status')).toBe('failed');
    expect(col(ten, 'failureCode')).toBe('corrupt');
    expect(col(ten, 'failureMessage')).toBe('cannot decode, "truncated"\nline 2');
    expect(col(ten, 'label')).toBe('3');
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a"b')).toBe('"a""b"');
    expect(csvField(null)).toBe('');
  });

  it('images.csv: text a spreadsheet would run as a formula is escaped, numbers stay numeric', () => {
    expect(csvField('=HYPERLINK("http://evil.example","click")')).toBe(
      `"'=HYPERLINK(""http://evil.example"",""click"")"`,
    );
    for (const c of ['+cmd', '-2+3', '@SUM(A1)', '\tx', '\r=1'])
      expect(csvField(c).replace(/^"/, '')[0]).toBe("'");
    expect(csvField(-1.5)).toBe('-1.5');
    expect(csvField('-12')).toBe('-12');
    expect(csvField('+3.5e-2')).toBe('+3.5e-2');
    expect(csvField('a=b')).toBe('a=b');

    const [a] = syntheticResults(1, 4);
    const row = okRow(parseImageResult(JSON.stringify({ ...a, id: '=HYPERLINK("x")', className: '@evil' })));
    const [, parsed] = parseCsv(imagesCsv([row]));
    expect(parsed[IMAGES_CSV_COLUMNS.indexOf('id')]).toBe(`'=HYPERLINK("x")`);
    expect(parsed[IMAGES_CSV_COLUMNS.indexOf('className')]).toBe(`'@evil`);
  });
});
