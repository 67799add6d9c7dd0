import type { RunSummary } from '@embedcam/explain';

const pct = (v: number | null | undefined) =>
  v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)}%`;
const num = (v: number | null | undefined, d = 3) => (v === null || v === undefined ? '—' : v.toFixed(d));

/** The headline numbers of a run as a Markdown table (printed by the CLI, pasted in docs). */
export function formatSummaryTable(s: RunSummary): string {
  const m = s.metrics;
  const rows: Array<[string, string]> = [
    ['images explained (failed)', `${s.images.processed} (${s.images.failed})`],
  ];
  if (m) {
    const b = m.baselines;
    rows.push(
      ['energy ratio (chance level)', `${num(m.meanEnergyRatio)} (${num(m.meanChance)})`],
      ['inside/outside mean ratio', num(m.meanInsideOutside, 2)],
      [`GT-known Loc @ τ=${(s.run.tau as number) ?? 0.2}`, pct(m.gtKnownLoc.value)],
      ['MaxBoxAcc (δ=0.5)', `${pct(m.maxBoxAcc.value)} @ τ=${m.maxBoxAcc.tau}`],
      ['MaxBoxAccV2 (δ=0.3/0.5/0.7)', pct(m.maxBoxAccV2.value)],
      ['pointing game', pct(m.pointingGame)],
      [
        'baseline: centred box (best size)',
        `acc ${pct(b.centredBox.acc)}, V2 ${pct(b.centredBox.accV2)}, size ${b.centredBox.bestSize}`,
      ],
      [
        'baseline: uniform map',
        `energy ${num(b.uniform.energyRatio)}, acc ${pct(b.uniform.acc)}, pointing ${pct(b.uniform.pointing)}`,
      ],
      ['nearest proxy = label', pct(s.audit.nearestProxyAccuracy)],
    );
  }
  return ['| metric | value |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}
