// Screenshot a run folder's report.html in headless Chromium (the picture in the README):
//   node docs/screenshot.mjs <run-dir> <out.png> [heading ...]
// The full page at 1200 px wide; given headings, only the page's header and the sections whose
// heading starts with one of them (the README's: Findings Timeline Phase).
// Chromium: CHROMIUM_PATH, else Debian's /usr/bin/chromium.
/* global document */ // the page.evaluate callbacks run in the browser
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const [runDir, out, ...keep] = process.argv.slice(2);
if (!runDir || !out) {
  process.stderr.write('usage: node docs/screenshot.mjs <run-dir> <out.png> [section heading ...]\n');
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), 'wsrace-shot-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1200, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(pathToFileURL(resolve(runDir, 'report.html')).href, { waitUntil: 'load' });
  // The page's script draws its three charts after load.
  await page.waitForFunction(() => document.querySelectorAll('.chart canvas').length >= 3, null, { timeout: 10_000 });
  if (errors.length > 0) throw new Error(`report.html: ${errors.join('; ')}`);
  if (keep.length > 0) {
    const kept = await page.evaluate((headings) => {
      let n = 0;
      for (const section of document.querySelectorAll('section')) {
        const title = section.querySelector('h2')?.textContent ?? '';
        if (headings.some((h) => title.startsWith(h))) n++;
        else section.style.display = 'none';
      }
      return n;
    }, keep);
    if (kept === 0) throw new Error(`report.html has no section whose heading starts with ${keep.join(' or ')}`);
  }
  await page.screenshot({ path: out, fullPage: true });
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
