// Drives Swagger UI at /doc/swagger in headless Chromium (Debian's, through
// playwright-core): authorize with client credentials, then "Try it out" on
// GET /api/v1/hubs. Any request to a host other than the server is blocked
// and fails the run, so the page must work with no outside network.
// Env: HUBGATE_URL, CLIENT_ID, CLIENT_SECRET, SCREENSHOT (a .png path).
const { chromium } = require('playwright-core');

async function main() {
  const base = process.env.HUBGATE_URL;
  const origin = new URL(base).origin;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const outside = [];
  const cspViolations = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
      outside.push(url);
      return route.abort();
    });
    await page.goto(`${base}/doc/swagger`, { waitUntil: 'networkidle' });
    await page.waitForSelector('.opblock', { timeout: 15000 });

    await page.click('button.btn.authorize');
    const oauth = page.locator('.auth-container', { has: page.locator('input[data-name="clientId"]') });
    await oauth.locator('input[data-name="clientId"]').fill(process.env.CLIENT_ID);
    await oauth.locator('input[data-name="clientSecret"]').fill(process.env.CLIENT_SECRET);
    await oauth.locator('button.authorize').click();
    // Once authorized, the form gives way to a Logout ("Remove authorization") button.
    await page.locator('button[aria-label="Remove authorization"]').first().waitFor({ timeout: 15000 });
    await page.locator('button.btn-done').first().click();

    const operation = page.locator('#operations-Hubs-listHubs');
    await operation.locator('.opblock-summary').click();
    // With tryItOutEnabled the form is open already; otherwise open it.
    await page.waitForTimeout(300);
    if (!(await operation.locator('button.execute').isVisible())) {
      await operation.locator('button.try-out__btn').click();
    }
    await operation.locator('button.execute').click();
    const status = operation.locator('.live-responses-table .response .response-col_status').first();
    await status.waitFor({ timeout: 15000 });
    const code = (await status.innerText()).trim();
    const body = await operation.locator('.live-responses-table .microlight').first().innerText();
    if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: false });
    const items = JSON.parse(body).items;
    // Nothing of the authorization may be left in the browser's storage.
    const stored = await page.evaluate(() => JSON.stringify(Object.assign({}, window.localStorage)));
    console.log(JSON.stringify({
      status: code, hubs: items.length, outside_requests: outside,
      csp_violations: cspViolations, local_storage: stored,
    }));
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(String(error && error.stack || error));
  process.exit(1);
});
