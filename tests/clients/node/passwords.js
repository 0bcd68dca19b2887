// Passwords in the admin console, in headless Chromium (Debian's, through
// playwright-core). Prints a JSON summary; the Rust test checks it.
// ACTION=change: EMAIL changes PASSWORD, first to a common one (refused),
//   then to NEW_PASSWORD; prints {weak_error, form_kept, notice, still_logged_in,
//   hubs_filters_one_line}.
// ACTION=reset: EMAIL resets MEMBER's password on the members page; prints
//   {one_time_password, notice}.
// ACTION=first-login: EMAIL logs in with the one-time PASSWORD, is kept on
//   the password page, and changes it to NEW_PASSWORD; prints {landed_on,
//   sent_back_to, notice, console_reached}.
// Env: HUBGATE_URL, EMAIL, PASSWORD, NEW_PASSWORD, MEMBER, SCREENSHOTS.
const { chromium } = require('playwright-core');

async function changePassword(page, current, next) {
  await page.getByLabel('Current password').fill(current);
  await page.getByLabel('New password', { exact: true }).fill(next);
  await page.getByLabel('Repeat the new password').fill(next);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.locator('.notice, .error').first().waitFor();
}

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
    page.setDefaultTimeout(10000);
    await page.route('**/*', (route) => {
      if (route.request().url().startsWith(origin)) return route.continue();
      outside.push(route.request().url());
      return route.abort();
    });
    await page.goto(`${base}/console`);
    await page.getByLabel('Email').fill(process.env.EMAIL);
    await page.getByLabel('Password').fill(process.env.PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    const result = { outside_requests: outside };

    if (process.env.ACTION === 'change') {
      await page.getByRole('heading', { name: /Custom integrations/ }).waitFor();
      await page.getByRole('link', { name: 'Password', exact: true }).click();
      await page.getByRole('heading', { name: 'Change your password' }).waitFor();
      // Long enough for the browser's own check, on the common list for the server's.
      await changePassword(page, process.env.PASSWORD, '123456789012');
      result.weak_error = await page.locator('.error').innerText();
      result.form_kept = await page.getByLabel('Current password').isVisible();
      await shot(page, 'console-password-refused');
      await changePassword(page, process.env.PASSWORD, process.env.NEW_PASSWORD);
      result.notice = await page.locator('.notice').innerText();
      await page.getByRole('link', { name: 'Integrations' }).click();
      await page.getByRole('heading', { name: /Custom integrations/ }).waitFor();
      result.still_logged_in = true;
      // Console polish: the hubs filters share one line on a laptop screen.
      await page.getByRole('link', { name: 'Hubs' }).click();
      await page.locator('form.filters').waitFor();
      const centres = await page.locator('form.filters > *').evaluateAll((els) =>
        els.map((el) => { const r = el.getBoundingClientRect(); return r.top + r.height / 2; }));
      result.hubs_filters_one_line = centres.length > 0
        && Math.max(...centres) - Math.min(...centres) < 10;
    } else if (process.env.ACTION === 'reset') {
      await page.getByRole('heading', { name: /Custom integrations/ }).waitFor();
      await page.getByRole('link', { name: 'Members' }).click();
      await page.getByRole('heading', { name: 'Members' }).waitFor();
      await page.getByRole('button', { name: `Reset password of ${process.env.MEMBER}` }).click();
      await page.locator('#one-time-password').waitFor();
      result.one_time_password = (await page.locator('#one-time-password').innerText()).trim();
      result.notice = await page.locator('.notice').first().innerText();
      await shot(page, 'console-password-reset');
    } else if (process.env.ACTION === 'first-login') {
      await page.getByRole('heading', { name: 'Change your password' }).waitFor();
      result.landed_on = new URL(page.url()).pathname;
      await page.goto(`${base}/console/consents`);
      await page.getByRole('heading', { name: 'Change your password' }).waitFor();
      result.sent_back_to = new URL(page.url()).pathname;
      await changePassword(page, process.env.PASSWORD, process.env.NEW_PASSWORD);
      result.notice = await page.locator('.notice').innerText();
      await page.getByRole('link', { name: 'Continue to the console' }).click();
      await page.getByRole('heading', { name: /Custom integrations/ }).waitFor();
      result.console_reached = true;
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
