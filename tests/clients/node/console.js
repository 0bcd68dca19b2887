// The admin console in headless Chromium (Debian's, through playwright-core).
// ACTION=create: log in, create an integration, reveal its secret, screenshot
//   the list and the detail page; prints {client_id, client_secret}.
// ACTION=rotate: rotate CLIENT_ID's secret keeping the old one GRACE seconds;
//   prints {client_secret}.
// ACTION=delete: delete CLIENT_ID through the confirmation page.
// Env: HUBGATE_URL, EMAIL, PASSWORD, SCREENSHOTS (a directory).
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
  const shot = (page, name) => process.env.SCREENSHOTS
    ? page.screenshot({ path: `${process.env.SCREENSHOTS}/${name}.png`, fullPage: true }) : null;
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.route('**/*', (route) => {
      if (route.request().url().startsWith(origin)) return route.continue();
      outside.push(route.request().url());
      return route.abort();
    });
    await page.goto(`${base}/console`);
    await page.getByLabel('Email').fill(process.env.EMAIL);
    await page.getByLabel('Password').fill(process.env.PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: /Custom integrations/ }).waitFor();
    const result = { outside_requests: outside };

    if (process.env.ACTION === 'create') {
      await page.locator('#create').click();
      await page.getByLabel('Name', { exact: true }).fill('Room booking sync');
      await page.getByLabel(/Redirect URIs/).fill('https://integrator.example/callback');
      await page.getByRole('checkbox', { name: /hubs:write/ }).uncheck();
      await page.getByRole('button', { name: 'Save' }).click();
      await page.locator('#reveal').waitFor();
      await shot(page, 'console-integration-detail');
      await page.locator('#reveal').click();
      result.client_id = (await page.locator('#client_id').innerText()).trim();
      result.client_secret = (await page.locator('#client_secret').innerText()).trim();
      await page.getByRole('link', { name: 'Integrations' }).click();
      await page.getByRole('heading', { name: /Custom integrations/ }).waitFor();
      result.listed = (await page.locator('main').innerText()).includes(result.client_id);
      await shot(page, 'console-integrations');
    } else {
      const client = process.env.CLIENT_ID;
      await page.getByRole('link', { name: 'Room booking sync' }).click();
      await page.locator('#client_id').waitFor();
      if (process.env.ACTION === 'rotate') {
        await page.getByLabel(/exactly this many seconds/).fill(process.env.GRACE);
        await page.locator('#rotate').click();
        await page.locator('#client_secret').waitFor();
        result.client_secret = (await page.locator('#client_secret').innerText()).trim();
        result.notice = await page.locator('.notice').innerText();
      } else if (process.env.ACTION === 'delete') {
        await page.locator('#delete').click();
        await page.locator('#confirm-delete').click();
        await page.getByRole('heading', { name: /Custom integrations/ }).waitFor();
        result.still_listed = (await page.locator('main').innerText()).includes(client);
      }
    }
    console.log(JSON.stringify(result));
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(String(error && error.stack || error));
  process.exit(1);
});
