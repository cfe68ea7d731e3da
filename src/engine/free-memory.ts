// What memory the machine can give now: read by the weight-format choice (model/) and the build's
// memory check (memory.ts). A file of its own, so that neither depends on the other for it.
import * as fs from 'node:fs';
import * as os from 'node:os';

/** Bytes the OS can give us now: MemAvailable on Linux, free memory elsewhere. REPOZIP_MEMORY_LIMIT overrides (tests, containers). */
export function availableMemory(): number {
  const forced = Number(process.env.REPOZIP_MEMORY_LIMIT);
  if (forced > 0) return forced;
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return os.freemem();
}
