// A repository of many small modules for the segmented engine's tests: each file a few lines with
// its own names, in seven folders, so that a snapshot holds dozens of segments.
import * as path from 'node:path';
import { write } from '../repo/fixture';

export const RECALL = path.resolve(__dirname, '..', 'fixtures', 'recall');

/** File `i`'s path, as the repository and the engine name it. */
export const modulePath = (i: number): string => `src/d${i % 7}/m${i}.ts`;

/** File `i`'s text; `edit` changes one digit of it. */
export function moduleText(i: number, edit = 0): string {
  return (
    [
      `// module ${i}: scales its input`,
      `export function scale${i}(x: number): number {`,
      `  return x * ${i + 3} + ${edit};`,
      '}',
      `export const label${i} = "m${i}";`,
    ].join('\n') + '\n'
  );
}

/** `n` modules under `root`. */
export function moduleRepo(root: string, n: number): string {
  for (let i = 0; i < n; i++) write(root, modulePath(i), moduleText(i));
  return root;
}
