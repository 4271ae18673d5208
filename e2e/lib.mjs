// Shared pieces of the browser tests: the browser, the steps, asserting,
// screenshots, TOTP codes and Chromium's virtual authenticator.
//
// The tests run Debian's chromium (apt-get install chromium) through
// playwright-core; no test tool downloads a browser. TestBrowser in
// cmd/mfad starts the server and runs each script with its settings in the
// environment (see env below).

import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// env returns the environment variable name, and stops the script with a
// message naming it when it is not set.
export function env(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set; run these scripts through ` +
      '`go test ./cmd/mfad -run TestBrowser`');
    process.exit(2);
  }
  return v;
}

export class AssertionError extends Error {}

// assert throws an AssertionError with message when ok is false.
export function assert(ok, message) {
  if (!ok) throw new AssertionError(message);
}

// assertEqual throws when got is not want, with both in the message.
export function assertEqual(got, want, what) {
  assert(got === want, `${what} = ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

// Chromium's flags: headless (added by playwright), and nothing that talks
// to the network on its own, so a test only ever sees mfad's traffic.
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// maxShotHeight keeps the pictures of long pages small, in pixels.
const maxShotHeight = 1600;

// timeout bounds each wait for a page, in milliseconds: the pages answer
// in milliseconds, so anything slower is a failure worth seeing early.
const timeout = 15_000;

// Run is one script's run: the browser, its steps and its screenshots.
export class Run {
  constructor(browser, base, shots, failures) {
    this.browser = browser;
    this.base = base;
    this.shots = shots;
    this.failures = failures;
    this.started = Date.now();
  }

  // context opens a new browser context (fresh cookies, as a new browser
  // profile would have) with one page, of a size that keeps screenshots
  // small and readable.
  async page() {
    const ctx = await this.browser.newContext({
      baseURL: this.base,
      viewport: { width: 1000, height: 750 },
      locale: 'en-GB',
      timezoneId: 'UTC',
    });
    ctx.setDefaultTimeout(timeout);
    ctx.setDefaultNavigationTimeout(timeout);
    return ctx.newPage();
  }

  // step runs fn under a name that the output and any failure carry. On
  // failure it saves a screenshot of every open page and the text of the
  // page, and exits non-zero.
  async step(name, fn) {
    const t0 = Date.now();
    try {
      await fn();
    } catch (err) {
      console.error(`FAIL ${name}\n  ${err.message.split('\n').join('\n  ')}`);
      await this.describePages(name);
      await this.browser.close().catch(() => {});
      process.exit(1);
    }
    console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
  }

  // describePages prints where each open page is, its heading, problem
  // and status texts, and saves a screenshot of it as failed-N.png.
  async describePages(step) {
    const pages = this.browser.contexts().flatMap((c) => c.pages());
    for (const [i, page] of pages.entries()) {
      const said = await page.evaluate(() => [...document.querySelectorAll(
        'h1, #flash, #problem, .problem, .field-error, .status, [role=status]')]
        .map((el) => `${el.id || el.tagName.toLowerCase()}: ${el.textContent.trim()}`)
        .filter((s) => !s.endsWith(': '))).catch((e) => [`(cannot read the page: ${e.message})`]);
      console.error(`  page ${i + 1} at ${page.url()}\n    ${said.join('\n    ')}`);
      const file = join(this.failures, `failed-${slug(step)}-${i + 1}.png`);
      await page.screenshot({ path: file, fullPage: true }).then(
        () => console.error(`    screenshot: ${file}`), () => {});
    }
  }

  // shot saves a screenshot of page as NAME.png: the whole page, down to
  // maxShotHeight, or only the element selector names when given.
  async shot(page, name, selector) {
    // Wait for the page's script and fonts, so the picture is stable.
    await page.waitForLoadState('load');
    const path = join(this.shots, `${name}.png`);
    const opts = { path, animations: 'disabled', caret: 'hide' };
    if (selector) {
      await page.locator(selector).screenshot(opts);
      return;
    }
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    const width = page.viewportSize().width;
    await page.screenshot({ ...opts, fullPage: true,
      clip: { x: 0, y: 0, width, height: Math.min(height, maxShotHeight) } });
  }

  async done() {
    await this.browser.close();
    console.log(`ok   all steps (${((Date.now() - this.started) / 1000).toFixed(1)}s)`);
  }
}

function slug(s) {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

// start launches chromium and returns the script's Run. MFAD_URL is the
// server's public URL; screenshots go to MFAD_SCREENSHOTS, and those of a
// failure to MFAD_FAILURES (by default there too).
export async function start() {
  const base = env('MFAD_URL').replace(/\/$/, '');
  const shots = env('MFAD_SCREENSHOTS');
  const failures = process.env.MFAD_FAILURES || shots;
  mkdirSync(shots, { recursive: true });
  mkdirSync(failures, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.MFAD_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: chromiumArgs,
  });
  return new Run(browser, base, shots, failures);
}

// expectPath waits until page is at path (a string, or a RegExp of the
// path) and throws, with what the page says, if it does not get there.
export async function expectPath(page, path, what) {
  const matches = (url) => (path instanceof RegExp ? path.test(url.pathname)
    : url.pathname === path);
  try {
    await page.waitForURL(matches, { waitUntil: 'load' });
  } catch {
    const said = await pageText(page, 'h1, #problem, #flash, .field-error');
    throw new AssertionError(`${what}: at ${new URL(page.url()).pathname}, want ${path}` +
      (said ? `; the page says: ${said}` : ''));
  }
}

// pageText returns the text of the elements selector matches, joined.
export async function pageText(page, selector) {
  const texts = await page.locator(selector).allTextContents();
  return texts.map((s) => s.replace(/\s+/g, ' ').trim()).filter(Boolean).join(' | ');
}

// text returns the text of the one element selector matches, with its
// white space collapsed.
export async function text(page, selector) {
  return (await page.locator(selector).textContent()).replace(/\s+/g, ' ').trim();
}

// signInWithCode signs user in on /login with code (an authenticator code,
// a backup code or an access pass) and waits for the page it leads to.
export async function signInWithCode(page, user, code, want = '/security') {
  await page.goto('/login');
  await page.fill('#user', user);
  await page.fill('#code', code);
  await page.click('#sign-in');
  await expectPath(page, want, `sign-in of ${user}`);
  assertEqual(await text(page, '#signed-in-user'), user, 'the signed-in user');
}

// signOut presses the sign-out button and waits for the sign-in page.
export async function signOut(page) {
  await page.click('#sign-out');
  await expectPath(page, '/login', 'sign-out');
  assertEqual(await page.locator('#sign-out').count(), 0, 'sign-out buttons after signing out');
}

// base32Decode decodes RFC 4648 base32, ignoring case, spaces and padding.
export function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = s.toUpperCase().replace(/[\s=]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`${JSON.stringify(ch)} is not base32`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

// totpCode is the RFC 6238 code of a base32 secret at time (milliseconds)
// with the defaults every app uses: HMAC-SHA1, 30-second steps, 6 digits.
// The truncation is RFC 4226 §5.3's.
export function totpCode(secret, time = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / 1000 / 30)));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const bin = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(bin % 1_000_000).padStart(6, '0');
}

// addVirtualAuthenticator gives page a platform authenticator, as a laptop
// with a fingerprint reader has: it holds passkeys (resident keys),
// verifies its user and answers every ceremony at once, with no prompt.
// It lives as long as the page, across navigations.
export async function addVirtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    // credentials lists the credentials the authenticator holds.
    async credentials() {
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      return credentials;
    },
  };
}
