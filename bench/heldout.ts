// The held-out packages (tools/fixture/heldout.json: never trained on) found on this machine: what
// every claim about recall on unseen code is measured over, by every script that measures it.
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
const HELDOUT = JSON.parse(fs.readFileSync(path.join(ROOT, 'tools/fixture/heldout.json'), 'utf8')) as { roots: string[]; packages: string[] };

/** A held-out package's folder, or undefined when no corpus root holds it. */
export function findHeldout(name: string): string | undefined {
  return HELDOUT.roots.map((r) => path.resolve(ROOT, r, name)).find((p) => fs.existsSync(p));
}

/** Every held-out package in heldout.json's order, with its folder or why it is missing. */
export function heldoutPackages(): { name: string; dir?: string }[] {
  return HELDOUT.packages.map((name) => ({ name, dir: findHeldout(name) }));
}

/** Issue J's rule: a package counts in a recall mean only with a context of at least this many tokens (a shorter one is too easy a haystack). */
export const MIN_CONTEXT = 1000;

/** Where findHeldout looks, for messages. */
export const HELDOUT_ROOTS: readonly string[] = HELDOUT.roots;
