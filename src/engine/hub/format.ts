// Numbers as people read them, shared by the model picker and the CLI's progress bar.

/** 28672 → "28 KiB", 3087007744 → "2.9 GiB" (binary units, like the KV sizes in the docs). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n < 10 && !Number.isInteger(n) ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

/** 1543714304 → "1.54B", 1310848 → "1.31M" (three significant digits). */
export function formatCount(n: number): string {
  const [scale, suffix] = n >= 1e9 ? [1e9, 'B'] : n >= 1e6 ? [1e6, 'M'] : n >= 1e3 ? [1e3, 'K'] : [1, ''];
  return `${Number((n / scale).toPrecision(3))}${suffix}`;
}

/** 137 → "2m17s", 7384 → "2h03m". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`;
}
