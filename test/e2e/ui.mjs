// repozip as a user meets it, in a real VS Code workbench (code-server) driven through Debian's
// headless Chromium: the activity-bar view, "repozip: Ask about repo" from the palette with a
// streaming answer, a question typed in the panel, a file link, a hover with its explanation link,
// the status bar (ready, then stale after an edit), and a window reload that keeps the conversation.
// A screenshot per step.
// Usage: node ui.mjs <workbench-url> <out-dir> <workspace-dir>. Exits non-zero on any failed step.
import fs from 'node:fs';
import path from 'node:path';

import { openBrowser } from './browser.mjs';

const [url, outDir, workspace] = process.argv.slice(2);
if (!url || !outDir || !workspace) {
  console.error('usage: node ui.mjs <workbench-url> <out-dir> <workspace-dir>');
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });
const T = Number(process.env.E2E_TIMEOUT_MS || 60000);
const t0 = Date.now();
const log = (...a) => console.log(`[ui +${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);
const check = (ok, what) => {
  if (!ok) throw new Error(`check failed: ${what}`);
  log('ok:', what);
};

const { page, close } = await openBrowser(outDir);
const consoleLines = [];
page.on('console', (m) => consoleLines.push(`[${m.type()}] ${m.text()}`));
page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`));

const shot = async (name) => {
  await page.screenshot({ path: path.join(outDir, name) });
  log('screenshot', name);
};

// ---------------------------------------------------------------------------------------------
// Workbench helpers (generic)

const paletteInput = page.locator('.quick-input-widget .quick-input-box input');

async function runCommand(title) {
  // The palette snapshots the command list when it opens: retry until the extension's commands are in.
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  const deadline = Date.now() + T;
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('F1');
    await paletteInput.waitFor({ state: 'visible', timeout: T });
    await paletteInput.fill('>' + title);
    try {
      await row.waitFor({ state: 'visible', timeout: 2000 });
      break;
    } catch {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) throw new Error(`command not found in palette after ${attempt} tries: ${title}`);
      await page.waitForTimeout(1000);
    }
  }
  await page.keyboard.press('Enter');
  log('ran command:', title);
}

async function loadWorkbench() {
  const start = Date.now();
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: T });
  // the folder is open once the status bar shows its git branch; the extension once its item shows
  await page.locator('.statusbar-item', { hasText: 'main' }).first().waitFor({ state: 'visible', timeout: T });
  await activityItem.waitFor({ state: 'visible', timeout: T });
  log(`workbench with repozip's contributions in ${((Date.now() - start) / 1000).toFixed(1)}s`);
}

// ---------------------------------------------------------------------------------------------
// repozip's parts of the UI

const activityItem = page.locator('.activitybar [aria-label^="repozip"]').first();
const statusItem = page.locator('.statusbar-item', { hasText: 'repozip' }).first();
// The view's content is two iframes deep: VS Code's webview host, then the page itself.
const panel = () => page.frameLocator('iframe.webview.ready[src*="extensionId=repozip.repozip"]').frameLocator('iframe#active-frame');
const turns = () => panel().locator('.turn');

// After a reload the workbench may restore the repozip container open while its webview is still
// loading; a click then would close it. So: click only when the container is not the active one,
// and look again if the view still does not show.
const activeItem = page.locator('.activitybar li.action-item.checked:has([aria-label^="repozip"]), .activitybar li.action-item.checked[aria-label^="repozip"]');
async function openView() {
  for (let attempt = 0; attempt < 3; attempt++) {
    if ((await activeItem.count()) === 0) await activityItem.click();
    const shown = await panel()
      .locator('#cache-label')
      .waitFor({ state: 'visible', timeout: T / 3 })
      .then(
        () => true,
        () => false,
      );
    if (shown) return;
  }
  throw new Error('the repozip view did not open');
}

/**
 * Records, inside the page, the length of each streaming answer as rendered. The tiny model writes
 * hundreds of tokens a second, faster than polling from here could see, so a MutationObserver
 * watches instead.
 */
async function watchStreaming() {
  await panel()
    .locator('#transcript')
    .evaluate((transcript) => {
      window.__partialLengths = [];
      // the extension's messages, counted as they reach the panel: a fast answer can arrive within
      // one animation frame and render once, but it still comes as one message per piece
      window.__deltasBeforeEnd = 0;
      window.__ended = false;
      window.addEventListener('message', (e) => {
        if (e.data?.type === 'answer-delta' && !window.__ended) window.__deltasBeforeEnd++;
        if (e.data?.type === 'answer-end') window.__ended = true;
      });
      new MutationObserver(() => {
        const answer = transcript.querySelector('.turn:last-of-type .answer.streaming');
        const n = answer && !answer.querySelector('.thinking') ? answer.textContent.length : 0;
        if (n > 0 && window.__partialLengths.at(-1) !== n) window.__partialLengths.push(n);
      }).observe(transcript, { subtree: true, childList: true, characterData: true });
    });
}

/** Waits for turn `n` (0-based) to finish; returns its question, answer and footer. */
async function finishedTurn(n, what) {
  const turn = turns().nth(n);
  await turn.waitFor({ state: 'visible', timeout: T });
  await turn.locator('.answer:not(.streaming)').waitFor({ timeout: 4 * T });
  await turn.locator('.turn-footer .turn-stats, .turn-footer .turn-error').first().waitFor({ timeout: T });
  const [question, answer, footer] = await Promise.all(
    ['.question', '.answer', '.turn-footer'].map(async (sel) => (await turn.locator(sel).innerText()).trim()),
  );
  log(`${what}: ${answer.length} chars, footer "${footer}"`);
  return { turn, question, answer, footer };
}

// ---------------------------------------------------------------------------------------------

let failed = false;
try {
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: T });
  await loadWorkbench();
  await statusItem.waitFor({ state: 'visible', timeout: T });
  log('status bar:', await statusItem.innerText());
  await shot('01-workbench.png');

  // 1. the repozip view in the activity bar
  await openView();
  log('panel cache state:', await panel().locator('#cache').innerText());
  check((await panel().locator('#empty').isVisible()) && (await turns().count()) === 0, 'a fresh workspace opens an empty chat');
  await shot('02-chat-view.png');

  // 2. "repozip: Ask about repo" from the palette: the answer streams into the panel
  await watchStreaming();
  await runCommand('repozip: Ask about repo');
  const question = 'What does the add function do?';
  await paletteInput.waitFor({ state: 'visible', timeout: T });
  await paletteInput.fill(question);
  await shot('03-ask-input.png');
  await page.keyboard.press('Enter');
  // the first question builds the cache: a cancellable notification with the phases
  const building = page.locator('.notifications-toasts .notification-toast', { hasText: 'building the repository cache' }).first();
  if (
    await building.waitFor({ state: 'visible', timeout: 15000 }).then(
      () => true,
      () => false,
    )
  )
    await shot('04-building.png');
  else log('the build notification came and went before it could be caught');
  const first = await finishedTurn(0, 'palette question');
  const [partial, deltas] = await panel()
    .locator('#transcript')
    .evaluate(() => [window.__partialLengths, window.__deltasBeforeEnd]);
  check(first.question === question, 'the question is in the panel');
  check(first.answer.length > 0, 'tokens arrived');
  // Streaming is the answer coming in pieces before its end. How many of them the panel got to
  // render depends on the machine's speed (at ~750 tokens/s all of them fit in one frame), so the
  // rendered lengths are only logged.
  log(`rendered lengths while streaming: ${partial.slice(0, 12).join(', ')}${partial.length > 12 ? '…' : ''}`);
  check(deltas >= 2, `the answer streamed in (${deltas} pieces before its end)`);
  check(/cache built/.test(first.footer) && /tok\/s/.test(first.footer), 'the stats say the cache was built for this question');
  await shot('05-answer.png');

  // 3. a question typed in the panel, whose (scripted) answer names a file; its link opens the editor
  await page.locator('.monaco-workbench .part.editor').click();
  await page.keyboard.press('Control+Alt+Shift+F9'); // repozip._test.scriptAnswer (see run-e2e.sh)
  await panel().locator('#input').fill('Where is the sum computed?');
  await panel().locator('#input').press('Enter');
  const second = await finishedTurn(1, 'panel question');
  const link = second.turn.locator('a.file-link', { hasText: 'src/math.ts:2' });
  check((await link.count()) === 1, 'the answer links src/math.ts:2');
  await shot('06-file-link.png');
  await link.click();
  const tab = page.locator('.tabs-container .tab', { hasText: 'math.ts' });
  await tab.waitFor({ state: 'visible', timeout: T });
  await page.locator('.monaco-editor .view-line', { hasText: 'export function add' }).first().waitFor({ state: 'visible', timeout: T });
  check(true, 'the link opened src/math.ts in an editor');
  await shot('07-file-opened.png');

  // 4. a hover on `add`: the explanation link, then its explanation in the panel, then the hover shows it
  const hover = page.locator('.monaco-hover:not(.hidden)', { hasText: 'Explain with repo context' }).first();
  const showHover = async () => {
    const word = page.locator('.monaco-editor .view-line', { hasText: 'export function add' }).first().locator('span span', { hasText: /^add$/ }).first();
    if (await word.count()) {
      await page.mouse.move(10, 10);
      await word.hover();
    } else {
      // not tokenized (yet): put the cursor on the word and ask for the hover from the keyboard
      await page.keyboard.press('Control+G');
      await paletteInput.fill(':1:18');
      await page.keyboard.press('Enter');
      await runCommand('Show or Focus Hover');
    }
  };
  await showHover();
  await hover.waitFor({ state: 'visible', timeout: 15000 });
  await shot('08-hover-link.png');
  await hover.locator('a', { hasText: 'Explain with repo context' }).click();
  const explanation = await finishedTurn(2, 'hover explanation');
  check(/^Explain `add` in src\/math\.ts:1/.test(explanation.question), 'the explanation question names the symbol and its place');
  check(/tok\/s/.test(explanation.footer), 'the explanation finished');
  await shot('09-explanation.png');
  await page.locator('.monaco-editor .view-line', { hasText: 'export function add' }).first().click();
  await page.mouse.move(10, 10);
  await showHover();
  const cached = page.locator('.monaco-hover:not(.hidden)', { hasText: 'repozip · add' }).first();
  await cached.waitFor({ state: 'visible', timeout: 15000 });
  check((await cached.locator('a', { hasText: 'Explain with repo context' }).count()) === 0, 'the next hover shows the explanation itself');
  await shot('10-hover-cached.png');
  await page.keyboard.press('Escape');

  // 5. the status bar: the cache state, and its actions
  const statusText = (await statusItem.innerText()).trim();
  check(/repozip: ready · .+ · 50% kept/.test(statusText), `status bar says ready with size and kept ratio ("${statusText}")`);
  await statusItem.click();
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Rebuild the cache' }).waitFor({ state: 'visible', timeout: T });
  await shot('11-status-actions.png');
  await page.keyboard.press('Escape');

  // 6. a file changes on disk: the watcher marks the cache stale
  fs.appendFileSync(path.join(workspace, 'src', 'main.ts'), '// edited outside the editor\n');
  await page.locator('.statusbar-item', { hasText: 'repozip: stale · 1 file changed' }).waitFor({ state: 'visible', timeout: T });
  check(true, 'an edited file makes the status bar say stale');
  await shot('12-stale.png');

  // 7. reload the window: the conversation comes back
  const reloaded = page.waitForEvent('load', { timeout: T });
  await runCommand('Developer: Reload Window');
  await reloaded;
  await loadWorkbench();
  await openView();
  await turns().nth(2).waitFor({ state: 'visible', timeout: T });
  const restored = await turns().locator('.question').allInnerTexts();
  check(restored.length === 3 && restored[0].trim() === question, `the history is restored after a reload (${restored.length} turns)`);
  await turns().nth(1).locator('a.file-link', { hasText: 'src/math.ts:2' }).waitFor({ timeout: T });
  check(true, 'restored answers keep their file links');
  await shot('13-restored.png');
} catch (err) {
  failed = true;
  console.error('UI TEST FAILED:', (err && err.stack) || err);
  await shot('99-failure.png').catch((e) => console.error('no failure screenshot:', e.message));
} finally {
  fs.writeFileSync(path.join(outDir, 'browser-console.log'), consoleLines.join('\n') + '\n');
  await close();
}
log(failed ? 'RESULT: FAIL' : 'RESULT: PASS');
process.exit(failed ? 1 : 0);
