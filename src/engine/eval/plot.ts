// An SVG line chart of recall accuracy against the kept ratio, one line per press, with the full
// cache and the no-context floor as dashed references. Plain SVG: no plotting dependency.
import { RecallReport } from './recall';

const COLORS = ['#d62728', '#e377c2', '#bcbd22', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f'];
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

export function recallPlot(report: RecallReport, title: string, metric: 'tokenAccuracy' | 'exactMatch' = 'tokenAccuracy'): string {
  const W = 640;
  const H = 420;
  const m = { l: 60, r: 150, t: 40, b: 50 };
  const ratios = [...new Set(report.rows.map((r) => r.ratio))].sort((a, b) => a - b);
  const x = (r: number) => m.l + ((r - 0) / 1) * (W - m.l - m.r);
  const y = (v: number) => H - m.b - v * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  for (let v = 0; v <= 1.0001; v += 0.2) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`);
  }
  for (const r of ratios) parts.push(`<text x="${x(r)}" y="${H - m.b + 18}" text-anchor="middle">${r}</text>`);
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">KV ratio (fraction kept)</text>`);
  parts.push(
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${metric === 'tokenAccuracy' ? 'token accuracy' : 'exact match'}</text>`,
  );
  const ref = (v: number, label: string, color: string, row: number) => {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y(v)}" y2="${y(v)}" stroke="${color}" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${W - m.r + 10}" y="${m.t + 16 * row}" fill="${color}">${esc(label)}</text>`);
  };
  ref(report.full[metric], `full cache ${report.full[metric].toFixed(2)}`, '#000', 0);
  ref(report.noContext[metric], `no context ${report.noContext[metric].toFixed(2)}`, '#999', 1);
  const presses = [...new Set(report.rows.map((r) => r.press))];
  presses.forEach((p, i) => {
    const pts = report.rows.filter((r) => r.press === p).sort((a, b) => a.ratio - b.ratio);
    const color = COLORS[i % COLORS.length];
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((r) => `${x(r.ratio)},${y(r[metric])}`).join(' ')}"/>`);
    for (const r of pts) parts.push(`<circle cx="${x(r.ratio)}" cy="${y(r[metric])}" r="3" fill="${color}"/>`);
    parts.push(`<text x="${W - m.r + 10}" y="${m.t + 16 * (i + 3)}" fill="${color}">${esc(p)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
