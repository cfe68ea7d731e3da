// Debian's headless Chromium, as both e2e drivers (ui.mjs, ext-tests.mjs) open the workbench in it:
// a fresh profile under outDir and no background traffic (the machine is offline).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

/** Launches Chromium with a new profile in outDir; returns its first page and `close`, which also removes the profile. */
export async function openBrowser(outDir) {
  const profile = fs.mkdtempSync(path.join(outDir, 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const close = async () => {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { page: context.pages()[0] || (await context.newPage()), close };
}
