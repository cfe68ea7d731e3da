// The model picker's items (src/extension/modelItems.ts): what each catalogue model costs, in one line.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { test } from 'node:test';
import { catalogue } from '../../src/engine/hub/catalogue';
import { quickPickItem } from '../../src/extension/modelItems';

const root = path.resolve(__dirname, '../..');

test('a quick-pick item names the model and says what it costs', () => {
  const item = quickPickItem(catalogue(root).find((e) => e.id === 'Qwen/Qwen2.5-Coder-1.5B-Instruct')!);
  assert.equal(item.label, 'Qwen2.5-Coder 1.5B Instruct');
  assert.equal(item.description, 'Qwen/Qwen2.5-Coder-1.5B-Instruct');
  assert.match(item.detail, /^1\.54B parameters · 2\.9 GiB download · 28 KiB KV\/token · 32K context · KV ratio 0\.3 — /);
  assert.match(quickPickItem(catalogue(root).find((e) => e.gated)!).description, /· gated$/);
  assert.match(quickPickItem(catalogue(root).find((e) => e.id === 'tinycode')!).detail, /5\.0 MiB, bundled · 1 KiB KV\/token · 1K context/);
});
