// Browser test of ferrotel's local web UI in Debian's headless chromium, driven by playwright-core.
//
// Usage: node tests/ui/ui_test.mjs BASE_URL SCREENSHOT_DIR [OTLP_HTTP_URL]
//
// Run by crates/ferrotel/tests/ui_browser.rs after it has sent, over OTLP, the checkout trace of
// tests/ui/send_checkout.py (Python SDK: frontend -> backend -> db, an error in backend, logs in
// the spans, a counter and a histogram) and a 10 000-span trace (service `bulk`, root `bulk-root`).
// Each step asserts on text in the DOM; the first failure exits 1 with the step and the reason.
// OTLP_HTTP_URL (optional) is where the live-mode step sends a new trace.

import fs from 'node:fs';
import path from 'node:path';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error(`playwright-core is not installed (${e.message}): run \`npm ci --prefix tests/ui\``);
  process.exit(3);
}

const [base, shotDir, otlpUrl] = process.argv.slice(2);
if (!base || !shotDir) {
  console.error('usage: node tests/ui/ui_test.mjs BASE_URL SCREENSHOT_DIR [OTLP_HTTP_URL]');
  process.exit(2);
}
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(CHROMIUM)) {
  console.error(`${CHROMIUM} is missing: install Debian's chromium (\`apt-get install -y chromium\`; .ci/run does it)`);
  process.exit(3);
}
fs.mkdirSync(shotDir, { recursive: true });
const BIG_SPANS = Number(process.env.UI_TEST_BIG_SPANS || 10000);
// Only a hang guard: how fast the big trace renders is a benchmark figure (printed below), not
// something a test on a shared, loaded machine can assert.
const BIG_HANG_MS = 60000;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
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
const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
const page = await context.newPage();
page.setDefaultTimeout(15000);

const problems = [];
const origin = new URL(base).origin;
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  if (m.type() === 'error' && !/status of 404/.test(m.text())) problems.push(`console error: ${m.text()}`);
});
page.on('request', (r) => {
  const u = r.url();
  if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:')) problems.push(`request outside ferrotel: ${u}`);
});

let n = 0;
async function step(name, f) {
  const t = Date.now();
  try {
    await f();
    if (problems.length) throw new Error(problems.join('\n'));
    console.log(`ok ${++n} - ${name} (${Date.now() - t} ms)`);
  } catch (e) {
    const shot = path.join(shotDir, `FAILED-${String(n + 1).padStart(2, '0')}.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.error(`FAIL ${n + 1} - ${name}: ${e.message.split('\n').slice(0, 12).join('\n')}\n  at ${page.url()}\n  screenshot: ${shot}`);
    await browser.close();
    process.exit(1);
  }
}
function check(cond, msg) {
  if (!cond) throw new Error(msg);
}
async function shot(name, fullPage = true) {
  await page.screenshot({ path: path.join(shotDir, name), fullPage });
}
const texts = (sel) => page.locator(sel).allInnerTexts();
async function ready() {
  await page.locator('main[aria-busy="false"]').waitFor();
}

let checkoutUrl;
let traceId;

await step('search by service lists the checkout trace under its root span and service', async () => {
  await page.goto(base + '/');
  await page.waitForURL(/\/search/);
  await ready();
  await page.selectOption('#f-service', 'frontend');
  await page.locator('#f-operation option', { hasText: 'GET /checkout' }).waitFor({ state: 'attached' });
  await page.getByRole('button', { name: 'Find traces' }).click();
  await page.waitForURL(/service=frontend/);
  const item = page.locator('.trace-item', { has: page.locator('.root-name', { hasText: /^GET \/checkout$/ }) }).first();
  await item.waitFor();
  check((await item.locator('.root-service').innerText()) === 'frontend', 'root service is not "frontend"');
  const chips = await item.locator('.chip-name').allInnerTexts();
  for (const s of ['frontend', 'backend', 'db']) check(chips.includes(s), `service ${s} not listed (${chips})`);
  check(/5 spans/.test(await item.locator('.spans').innerText()), 'span count is not 5');
  check(await item.locator('.badge.error').count(), 'no error mark on the trace');
  traceId = await item.getAttribute('data-trace-id');
  await shot('01-search.png');
  await item.locator('a').click();
});

await step('the waterfall shows every span, nested, with service names', async () => {
  await page.waitForURL(/\/trace\//);
  await ready();
  checkoutUrl = page.url();
  const names = await texts('.span-row .name');
  check(names.length === 5, `expected 5 rows, got ${names.length}: ${names}`);
  check(names[0] === 'GET /checkout', `first row is ${names[0]}`);
  for (const s of ['load cart', 'SELECT cart', 'charge card', 'SELECT accounts']) check(names.includes(s), `span ${s} missing`);
  const svcs = await texts('.span-row .svc');
  check(svcs.includes('db') && svcs.includes('backend'), `services in rows: ${svcs}`);
  const levels = await page.locator('.span-row').evaluateAll((rs) => rs.map((r) => `${r.querySelector('.name').textContent}:${r.getAttribute('aria-level')}`));
  check(levels.includes('SELECT accounts:3'), `nesting: ${levels}`);
  check((await page.locator('.span-row.error').count()) === 1, 'expected exactly one row marked error');
  check((await page.locator('.span-row.error .err-mark').innerText()).includes('error'), 'error row has no visible mark');
  await shot('02-trace.png');
});

await step('"next error" selects the error span and its details show status, event and resource', async () => {
  await page.locator('button.next-error').click();
  const sel = page.locator('.span-row.selected');
  check((await sel.getAttribute('class')).includes('error'), 'selected row is not an error row');
  check((await sel.locator('.name').innerText()) === 'charge card', 'selected span is not "charge card"');
  const d = page.locator('.span-details');
  await d.locator('h2', { hasText: 'charge card' }).waitFor();
  const text = await d.innerText();
  for (const want of ['card declined', 'CardDeclined', 'exception', 'Self time', 'payment.provider', 'deployment.environment', 'ui-test.backend']) {
    check(text.includes(want), `details lack "${want}"`);
  }
  check(new URL(page.url()).searchParams.get('span'), 'the URL does not name the selected span');
  await shot('03-error-span.png');
});

await step('collapse and expand a subtree; keyboard moves the selection', async () => {
  const root = page.locator('.span-row').first();
  await root.locator('.toggle').click();
  check((await page.locator('.span-row:visible').count()) === 1, 'collapsing the root leaves other rows visible');
  await root.locator('.toggle').click();
  check((await page.locator('.span-row:visible').count()) === 5, 'expanding the root does not show every row');
  await page.locator('.rows').focus();
  await page.keyboard.press('Home');
  await page.keyboard.press('ArrowDown');
  check((await page.locator('.span-row.selected .name').innerText()) === 'load cart', 'ArrowDown did not select the second row');
});

await step('export as OTLP/JSON downloads the trace', async () => {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('button.export-json').click()]);
  const body = JSON.parse(fs.readFileSync(await dl.path(), 'utf8'));
  const spans = body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  check(spans.length === 5, `the export has ${spans.length} spans`);
  check(dl.suggestedFilename().includes(traceId), `file name ${dl.suggestedFilename()}`);
});

await step('from the error span to its logs', async () => {
  await page.locator('button.next-error').click();
  await page.locator('.span-details a.span-logs').click();
  await page.waitForURL(/\/logs\?.*spanId=/);
  await ready();
  const bodies = await texts('.log-body');
  check(bodies.includes('card declined for order 17'), `log bodies: ${JSON.stringify(bodies)}`);
  check(bodies.includes('charging card for order 17'), `log bodies: ${JSON.stringify(bodies)}`);
  check(!bodies.includes('checkout started for cart 42'), 'a log of another span is listed');
  const svc = await texts('.log-row .svc');
  check(svc.every((s) => s === 'backend'), `services: ${svc}`);
  check((await page.locator('.log-row .sev', { hasText: 'ERROR' }).count()) === 1, 'no ERROR severity shown');
  await shot('04-span-logs.png');
});

await step('from a log record back to its span', async () => {
  const row = page.locator('.log-row', { has: page.locator('.log-body', { hasText: 'card declined for order 17' }) });
  await row.locator('a.log-span-link').click();
  await page.waitForURL(/\/trace\/.*\?span=/);
  await ready();
  await page.locator('.span-row.selected').waitFor();
  check((await page.locator('.span-row.selected .name').innerText()) === 'charge card', 'the log link did not select "charge card"');
  check(await page.locator('.span-row.selected').isVisible(), 'the selected span is not visible');
  await shot('05-log-to-span.png');
});

await step('logs page by service and severity', async () => {
  await page.goto(base + '/logs?service=frontend');
  await ready();
  const bodies = await texts('.log-body');
  check(bodies.includes('checkout started for cart 42'), `frontend logs: ${JSON.stringify(bodies)}`);
  await page.goto(base + '/logs?severity=ERROR');
  await ready();
  const errs = await texts('.log-body');
  check(errs.includes('card declined for order 17') && !errs.includes('accounts query planned'), `ERROR logs: ${JSON.stringify(errs)}`);
  await shot('06-logs.png');
});

await step('logs filtered by body text from the form', async () => {
  await page.goto(base + '/logs');
  await ready();
  await page.locator('#f-body').fill('DECLINED');
  await page.locator('#f-body').press('Enter');
  await page.waitForURL(/body=DECLINED/);
  await ready();
  const bodies = await texts('.log-body');
  check(bodies.includes('card declined for order 17'), `body filter lost the match: ${JSON.stringify(bodies)}`);
  check(bodies.every((b) => b.toLowerCase().includes('declined')), `body filter kept others: ${JSON.stringify(bodies)}`);
  await shot('06b-logs-body.png');
});

await step('a counter drawn as an SVG line chart', async () => {
  await page.goto(base + '/metrics?service=backend');
  await ready();
  await page.locator('.metric-link', { hasText: 'checkout.orders' }).click();
  await page.waitForURL(/name=checkout.orders/);
  await ready();
  const paths = page.locator('svg.chart path.series');
  await paths.first().waitFor();
  check((await paths.count()) >= 2, 'expected one chart per attribute set (outcome=ok, outcome=declined)');
  const d = await paths.first().getAttribute('d');
  check(/^M[\d.]+ [\d.]+( L[\d.]+ [\d.]+)+$/.test(d), `path has no points: ${d}`);
  const titles = await texts('.chart-card h3');
  check(titles.some((t) => t.includes('outcome=declined')) && titles.every((t) => t.includes('backend')), `chart titles: ${titles}`);
  await shot('07-metric-counter.png');
});

await step('a histogram drawn as p50/p95/p99 lines', async () => {
  await page.locator('.metric-link', { hasText: 'checkout.duration' }).click();
  await page.waitForURL(/name=checkout.duration/);
  await ready();
  await page.locator('svg.chart path.series').first().waitFor();
  const legend = (await texts('.legend li')).join(' ');
  for (const p of ['p50', 'p95', 'p99']) check(legend.includes(p), `legend lacks ${p}: ${legend}`);
  const d = await page.locator('svg.chart path.series').first().getAttribute('d');
  check(/L/.test(d), `percentile path has one point only: ${d}`);
  await shot('08-metric-histogram.png');
});

await step('a gauge drawn as an SVG line chart', async () => {
  await page.locator('.metric-link', { hasText: 'checkout.queue_depth' }).click();
  await page.waitForURL(/name=checkout.queue_depth/);
  await ready();
  const path = page.locator('svg.chart path.series').first();
  await path.waitFor();
  const d = await path.getAttribute('d');
  check(/^M[\d.]+ [\d.]+( L[\d.]+ [\d.]+){2,}$/.test(d), `gauge path lacks its three points: ${d}`);
  const titles = await texts('.chart-card h3');
  check(titles.some((t) => t.includes('queue=payments')), `chart titles: ${titles}`);
  await shot('08b-metric-gauge.png');
});

function otlpTrace(tid, svc, names, errorAt = -1) {
  const now = BigInt(Date.now()) * 1000000n;
  const spans = names.map((name, i) => ({
    traceId: tid,
    spanId: (i + 1).toString(16).padStart(16, '0'),
    parentSpanId: i ? '0000000000000001' : '',
    name,
    kind: i ? 3 : 2,
    startTimeUnixNano: String(now + BigInt(i) * 1000000n),
    endTimeUnixNano: String(now + 10000000n + BigInt(i) * 1000000n),
    attributes: [{ key: 'step', value: { intValue: String(i) } }],
    status: i === errorAt ? { code: 2, message: 'pasted failure' } : {},
  }));
  return { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: svc } }] }, scopeSpans: [{ scope: { name: 'ui-test' }, spans }] }] };
}

await step('paste OTLP/JSON and view it in the waterfall, not stored', async () => {
  const tid = 'feed0000000000000000000000000001';
  await page.getByRole('button', { name: /Open OTLP\/JSON/ }).click();
  await page.locator('dialog textarea').fill(JSON.stringify(otlpTrace(tid, 'pasted-svc', ['pasted-root', 'pasted-child', 'pasted-fail'], 2)));
  await page.locator('dialog').getByRole('button', { name: 'View' }).click();
  await page.waitForURL(new RegExp(`/trace/${tid}`));
  await ready();
  const names = await texts('.span-row .name');
  check(names.join() === 'pasted-root,pasted-child,pasted-fail', `pasted rows: ${names}`);
  check((await page.locator('main').innerText()).includes('not stored'), 'no "not stored" notice');
  check((await page.locator('.span-row.error .name').innerText()) === 'pasted-fail', 'pasted error not marked');
  const res = await page.request.get(`${base}/api/v1/traces/${tid}`);
  check(res.status() === 404, `the pasted trace is in the store (${res.status()})`);
  await shot('09-pasted.png');
});

await step('load an OTLP/JSON lines file with two traces and pick one', async () => {
  const file = path.join(shotDir, 'two-traces.jsonl');
  fs.writeFileSync(
    file,
    JSON.stringify(otlpTrace('feed0000000000000000000000000002', 'file-svc', ['file-root-a', 'file-child-a'])) +
      '\n' +
      JSON.stringify(otlpTrace('feed0000000000000000000000000003', 'file-svc', ['file-root-b', 'file-child-b'])) +
      '\n',
  );
  await page.getByRole('button', { name: /Open OTLP\/JSON/ }).click();
  await page.locator('dialog input[type=file]').setInputFiles(file);
  const link = page.locator('dialog .dialog-list a', { hasText: 'file-root-b' });
  await link.waitFor();
  check((await page.locator('dialog .dialog-list li').count()) === 2, 'the dialog does not list both traces');
  await link.click();
  await page.waitForURL(/feed0000000000000000000000000003/);
  await ready();
  const names = await texts('.span-row .name');
  check(names.join() === 'file-root-b,file-child-b', `loaded rows: ${names}`);
  fs.rmSync(file);
});

await step(`a ${BIG_SPANS}-span trace renders completely`, async () => {
  await page.goto(base + '/search?service=bulk&lookback=all');
  await ready();
  const item = page.locator('.trace-item', { has: page.locator('.root-name', { hasText: 'bulk-root' }) });
  await item.waitFor();
  const t = Date.now();
  await item.locator('a').click();
  await page.waitForURL(/\/trace\//);
  await page.locator('main[aria-busy="false"] .span-row').first().waitFor({ timeout: BIG_HANG_MS });
  const ms = Date.now() - t;
  // Every span has its row, each once: bulk-root and bulk-op-1 .. bulk-op-(N-1). textContent,
  // not innerText: rows off screen are not laid out (`content-visibility: auto`), and innerText
  // would lay out each of them in turn.
  const names = await page.$$eval('.span-row .name', (els) => els.map((e) => e.textContent.trim()));
  check(names.length === BIG_SPANS, `${names.length} rows, expected ${BIG_SPANS}`);
  const seen = new Set(names);
  const missing = [];
  for (let i = 1; i < BIG_SPANS && missing.length < 5; i++) if (!seen.has(`bulk-op-${i}`)) missing.push(`bulk-op-${i}`);
  check(seen.has('bulk-root') && seen.size === BIG_SPANS && !missing.length, `rows missing or repeated: ${missing}`);
  // The list scrolls to its end: the last row is reachable and shown.
  const last = page.locator('.span-row').last();
  await last.scrollIntoViewIfNeeded({ timeout: BIG_HANG_MS });
  check(await last.isVisible(), 'the last row is not shown after scrolling to it');
  console.log(`  measurement (not asserted): ${names.length} rows ready in ${ms} ms (model + DOM: ${await page.locator('main').getAttribute('data-render-ms')} ms)`);
  const t2 = Date.now();
  await page.locator('button.next-error').click();
  const sel = page.locator('.span-row.selected.error');
  await sel.waitFor();
  check(await sel.isVisible(), 'the error row is not scrolled into view');
  check((await page.locator('.err-pos').innerText()).startsWith('error 1 of'), 'no error position shown');
  // Every 997th span is an error (crates/ferrotel/tests/ui_browser.rs): "previous" steps back
  // and wraps from the first error to the last.
  const errors = Math.max(0, Math.floor((BIG_SPANS - 997) / 997) + 1);
  const errPos = async (want) => {
    for (let i = 0; i < 50; i++) {
      const t = (await page.locator('.err-pos').innerText()).trim();
      if (t.startsWith(want)) return;
      await page.waitForTimeout(100);
    }
    check(false, `error position is "${(await page.locator('.err-pos').innerText()).trim()}", expected "${want}"`);
  };
  if (errors >= 2) {
    await page.locator('button.next-error').click();
    await errPos(`error 2 of ${errors}`);
    await page.locator('button.prev-error').click();
    await errPos(`error 1 of ${errors}`);
    await page.locator('button.prev-error').click();
    await errPos(`error ${errors} of ${errors}`);
    check(await page.locator('.span-row.selected.error').isVisible(), 'the last error row is not scrolled into view');
  }
  await page.locator('button.collapse-all').click();
  check((await page.locator('.span-row:visible').count()) === 1, 'collapse all leaves more than the root');
  await page.locator('button.expand-all').click();
  console.log(`  next error, collapse all, expand all: ${Date.now() - t2} ms`);
  await page.locator('button.next-error').click();
  await shot('10-big-trace.png', false);
});

if (otlpUrl) {
  await step('live mode prepends a trace that arrives after the page opened', async () => {
    await page.goto(base + '/search?service=live-svc&live=1&lookback=all');
    await ready();
    const tid = 'feed00000000000000000000000000a1';
    const res = await fetch(`${otlpUrl}/v1/traces`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(otlpTrace(tid, 'live-svc', ['live-root', 'live-child'])),
    });
    check(res.ok, `OTLP/HTTP answered ${res.status}`);
    await page.locator('.trace-item .root-name', { hasText: 'live-root' }).waitFor({ timeout: 12000 });
    await shot('11-live.png');
  });
}

// The search form's operation, tag and duration filters, over the checkout trace and the three
// frontend traces send_checkout.py sends beside it (UI_TEST_SENT: its JSON output): `cart`
// (GET /cart, 120 ms), `quick` (GET /checkout, 4 ms), `express` (GET /checkout, 150 ms, route
// /checkout/express). Each search must list exactly the traces it matches.
const sent = JSON.parse(process.env.UI_TEST_SENT || '{}');
const ids = { checkout: traceId, ...(sent.decoys || {}) };
const nameOf = (id) => Object.keys(ids).find((k) => ids[k] === id) || id;
const listed = async () => (await page.locator('.trace-item').evaluateAll((li) => li.map((l) => l.dataset.traceId))).map(nameOf).sort();

async function searchWithForm({ operation = '', tags = '', minDuration = '' }, want, shotName) {
  await page.goto(base + '/search');
  await ready();
  await page.selectOption('#f-service', 'frontend');
  await page.locator('#f-operation option', { hasText: 'GET /cart' }).waitFor({ state: 'attached' });
  await page.selectOption('#f-operation', operation);
  await page.locator('#f-tags').fill(tags);
  await page.locator('#f-minDuration').fill(minDuration);
  await page.getByRole('button', { name: 'Find traces' }).click();
  await page.waitForURL((u) => u.pathname === '/search' && u.searchParams.get('service') === 'frontend');
  await ready();
  // The form's filters are in the URL, so the search is deep-linkable.
  const p = new URL(page.url()).searchParams;
  check((p.get('operation') || '') === operation, `operation in the URL: ${p.get('operation')}`);
  check((p.get('minDuration') || '') === minDuration, `minDuration in the URL: ${p.get('minDuration')}`);
  if (tags) {
    const [k, v] = tags.split('=');
    check(JSON.parse(p.get('tags') || '{}')[k] === v, `tags in the URL: ${p.get('tags')}`);
  }
  const got = await listed();
  check(JSON.stringify(got) === JSON.stringify([...want].sort()), `listed ${JSON.stringify(got)}, expected ${JSON.stringify([...want].sort())}`);
  if (shotName) await shot(shotName);
  // The same URL opened afresh shows the same form and the same list.
  await page.goto(page.url());
  await ready();
  check((await page.locator('#f-operation').inputValue()) === operation, 'the deep link lost the operation');
  check((await page.locator('#f-minDuration').inputValue()) === minDuration, 'the deep link lost the min duration');
  check((await page.locator('#f-tags').inputValue()) === tags, `the deep link shows tags "${await page.locator('#f-tags').inputValue()}"`);
  const again = await listed();
  check(JSON.stringify(again) === JSON.stringify(got), `the deep link lists ${JSON.stringify(again)}`);
}

await step('search by operation through the form', async () => {
  check(ids.cart && ids.quick && ids.express, `send_checkout.py sent no decoy traces: ${JSON.stringify(sent)}`);
  await searchWithForm({ operation: 'GET /checkout' }, ['checkout', 'quick', 'express'], '13-search-operation.png');
});

await step('search by a tag through the form', async () => {
  await searchWithForm({ tags: 'http.route=/checkout' }, ['checkout', 'quick'], '14-search-tag.png');
});

await step('search by min duration through the form', async () => {
  await searchWithForm({ minDuration: '50ms' }, ['checkout', 'cart', 'express'], '15-search-min-duration.png');
});

await step('search by operation, tag and min duration together', async () => {
  await searchWithForm({ operation: 'GET /checkout', tags: 'http.route=/checkout', minDuration: '50ms' }, ['checkout'], '16-search-combined.png');
  const item = page.locator('.trace-item');
  check((await item.locator('.root-name').innerText()) === 'GET /checkout', 'the match is not listed under its root span');
  check(/100(\.0)? ?ms/.test(await item.locator('.dur').innerText()), `duration shown: ${await item.locator('.dur').innerText()}`);
});

await step('a deep link with a start/end window lists only the traces that started in it', async () => {
  // cart started 900 ms before the checkout trace, quick 700 ms, express 500 ms: a window from
  // 1000 to 600 ms before it holds cart and quick.
  const t0 = BigInt(sent.t0_ns);
  const us = (ms) => String((t0 - BigInt(ms) * 1000000n) / 1000n);
  await page.goto(`${base}/search?service=frontend&start=${us(1000)}&end=${us(600)}`);
  await ready();
  const got = await listed();
  check(JSON.stringify(got) === '["cart","quick"]', `listed ${JSON.stringify(got)}`);
  check((await page.locator('#f-lookback').inputValue()) === 'custom', 'the time range does not show the custom window');
  await shot('17-search-window.png');
});

await step('a custom time range set with the date pickers lists only the traces in it', async () => {
  const t0 = BigInt(sent.t0_ns);
  const msBefore = (ms) => Number((t0 - BigInt(ms) * 1000000n) / 1000000n);
  await page.goto(`${base}/search?service=frontend&lookback=all`);
  await ready();
  check(await page.locator('#f-start').isHidden(), 'the date pickers show without a custom range');
  await page.selectOption('#f-lookback', 'custom');
  check(await page.locator('#f-start').isVisible(), 'the date pickers stay hidden for a custom range');
  // The pickers take local time: the page formats the instants itself.
  const local = (ms) =>
    page.evaluate((ms) => {
      const d = new Date(ms);
      const p = (n, w = 2) => String(n).padStart(w, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
    }, ms);
  await page.locator('#f-start').fill(await local(msBefore(1000)));
  await page.locator('#f-end').fill(await local(msBefore(600)));
  await page.getByRole('button', { name: 'Find traces' }).click();
  await page.waitForURL((u) => u.searchParams.has('start'));
  await ready();
  const p = new URL(page.url()).searchParams;
  check(p.get('start') === String(msBefore(1000) * 1000), `start in the URL: ${p.get('start')}`);
  check(p.get('end') === String(msBefore(600) * 1000), `end in the URL: ${p.get('end')}`);
  const got = await listed();
  check(JSON.stringify(got) === '["cart","quick"]', `listed ${JSON.stringify(got)}`);
  // Reopened, the pickers show the same window.
  check((await page.locator('#f-start').inputValue()).startsWith((await local(msBefore(1000))).slice(0, 19)), 'the deep link lost the start');
  await shot('18-search-date-pickers.png');
});

await step('the dark theme follows the system setting', async () => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(checkoutUrl);
  await ready();
  await page.locator('button.next-error').click();
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg !== 'rgb(247, 247, 248)', `the page stays light in dark mode (${bg})`);
  await shot('12-trace-dark.png', false);
});

await browser.close();
console.log(`all ${n} steps passed; screenshots in ${shotDir}`);
