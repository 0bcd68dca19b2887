// The authorization-code flow in headless Chromium (Debian's, through
// playwright-core): log in, pick the account if asked, screenshot the consent
// page, approve. The redirect to the client (an outside host) is read off the
// answer and printed as JSON. Any other outside request fails.
// Env: AUTHORIZE_URL, EMAIL, PASSWORD, ACCOUNT (name to pick, optional), SCREENSHOT.
const { chromium } = require('playwright-core');

async function main() {
  const start = new URL(process.env.AUTHORIZE_URL);
  const redirect = new URL(start.searchParams.get('redirect_uri'));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const outside = [];
  let landed = null;
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.origin === start.origin) return route.continue();
      if (url.origin === redirect.origin && url.pathname === redirect.pathname) {
        landed = url.toString();
        return route.fulfill({ status: 200, contentType: 'text/html', body: '<p>back at the client</p>' });
      }
      outside.push(url.toString());
      return route.abort();
    });
    await page.goto(start.toString());
    await page.getByLabel('Email').fill(process.env.EMAIL);
    await page.getByLabel('Password').fill(process.env.PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForLoadState();
    if (await page.locator('input[type="radio"][name="account"]').count() > 0) {
      if (process.env.ACCOUNT) await page.getByLabel(new RegExp(process.env.ACCOUNT)).check();
      await page.getByRole('button', { name: 'Continue' }).click();
    }
    await page.locator('#approve').waitFor({ timeout: 15000 });
    const consent = await page.locator('main').innerText();
    if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
    // The answer is a 303 to the client; the browser then leaves for the
    // client's host (unreachable here), so read the Location off the answer.
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/identity/oauth/v2/authorize/decision')),
      page.locator('#approve').click(),
    ]);
    landed = answer.headers()['location'] || landed;
    console.log(JSON.stringify({ redirected_to: landed, consent_text: consent, outside_requests: outside }));
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(String(error && error.stack || error));
  process.exit(1);
});
