// What the Marketplace and the first run read from package.json: the icon, categories VS Code knows,
// a repository, and a walkthrough whose pages exist and whose steps complete on commands repozip has.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'node:test';

const root = path.join(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
// VS Code 1.100's list (src/vs/platform/extensions/common/extensions.ts); vsce does not check them.
const CATEGORIES = [
  'AI',
  'Azure',
  'Chat',
  'Data Science',
  'Debuggers',
  'Extension Packs',
  'Education',
  'Formatters',
  'Keymaps',
  'Language Packs',
  'Linters',
  'Machine Learning',
  'Notebooks',
  'Programming Languages',
  'SCM Providers',
  'Snippets',
  'Testing',
  'Themes',
  'Visualization',
  'Other',
];

test('the icon is a 128×128 PNG (the Marketplace takes no SVG)', () => {
  const png = fs.readFileSync(path.join(root, pkg.icon));
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
  // the IHDR chunk comes first: width and height, big-endian, at bytes 16 and 20
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [128, 128]);
});

test('Marketplace metadata: known categories, a repository, a banner, engines unchanged', () => {
  assert.ok(pkg.categories.length > 0);
  assert.deepEqual(
    pkg.categories.filter((c: string) => !CATEGORIES.includes(c)),
    [],
  );
  assert.match(pkg.repository.url, /^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/);
  assert.match(pkg.galleryBanner.color, /^#[0-9a-f]{6}$/i);
  assert.ok(pkg.keywords.length > 0 && pkg.keywords.length <= 30, 'the Marketplace takes up to 30 keywords');
  assert.equal(pkg.engines.vscode, '^1.100.0');
  assert.equal(pkg.license, 'MIT');
});

test('the walkthrough: choose a model, build the cache, ask, open the chat — each with its page and a command that completes it', () => {
  const commands = new Set(pkg.contributes.commands.map((c: { command: string }) => c.command));
  const views = new Set(
    Object.values(pkg.contributes.views)
      .flat()
      .map((v) => (v as { id: string }).id),
  );
  const [walkthrough] = pkg.contributes.walkthroughs;
  assert.equal(walkthrough.id, 'gettingStarted'); // main.ts opens it by this id
  const steps: { id: string; description: string; media: { markdown: string }; completionEvents: string[] }[] = walkthrough.steps;
  assert.deepEqual(
    steps.map((s) => s.completionEvents[0]),
    ['onCommand:repozip.chooseModel', 'onCommand:repozip.buildCache', 'onCommand:repozip.ask', 'onCommand:repozip.openChat'],
  );
  for (const s of steps) {
    assert.ok(fs.statSync(path.join(root, s.media.markdown)).size > 200, s.media.markdown);
    for (const e of s.completionEvents) {
      const [kind, id] = e.split(':');
      assert.ok(kind === 'onCommand' ? commands.has(id) : kind === 'onView' && views.has(id), e);
    }
    // the button in the step runs the command that completes it
    assert.ok(s.description.includes(`(command:${s.completionEvents[0].slice('onCommand:'.length)})`), s.id);
  }
});
