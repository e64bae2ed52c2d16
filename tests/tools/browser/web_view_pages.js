// Drives Debian's chromium through puppeteer-core over the pages of `strata ui`: for each page,
// the console errors, failed requests, dialogs (the XSS probe), what the page shows (versions,
// tensors with their diff values, curve series) and a screenshot. Prints one JSON object.
//
//   node web_view_pages.js BASE_URL OUT_DIR PAGE=PATH ...
'use strict';
const puppeteer = require('puppeteer-core');

async function visit(browser, base, out, name, path) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 860 });
  const errors = [];
  let dialogs = 0;
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => errors.push('page: ' + String(e)));
  page.on('requestfailed', (r) => errors.push('failed: ' + r.url()));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(r.status() + ': ' + r.url()); });
  page.on('dialog', async (d) => { dialogs += 1; await d.dismiss(); });
  const start = Date.now();
  const response = await page.goto(base + path, { waitUntil: 'load' });
  const ms = Date.now() - start;
  const shown = await page.evaluate(() => ({
    versions: [...document.querySelectorAll('.row[data-version]')].map((e) => e.dataset.version),
    tensors: [...document.querySelectorAll('[data-tensor]')].map((e) => [e.dataset.tensor, e.dataset.meanAbsDiff]),
    series: [...document.querySelectorAll('[data-series]')].map((e) => [e.dataset.series, e.querySelectorAll('circle').length]),
    xss: window.__xss === undefined ? 0 : 1,
    text: document.body.innerText.slice(0, 4000),
  }));
  await page.screenshot({ path: `${out}/${name}.png` });
  await page.close();
  return { status: response.status(), errors, dialogs, ms, ...shown };
}

(async () => {
  const [base, out, ...pages] = process.argv.slice(2);
  const browser = await puppeteer.launch({
    executablePath: process.env.STRATA_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  const results = {};
  try {
    for (const spec of pages) {
      const eq = spec.indexOf('=');
      results[spec.slice(0, eq)] = await visit(browser, base, out, spec.slice(0, eq), spec.slice(eq + 1));
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(results));
})().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
