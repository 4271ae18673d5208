// The self-service portal as a new employee uses it: alice signs in with
// the access pass the helpdesk gave her, adds an authenticator app (the
// code computed from the key the page shows), makes backup codes when the
// page prompts, registers a passkey, signs in with it, renames it, issues
// herself a pass for a new device, reads her activity, and signs in with a
// printed backup code, which leaves one fewer.
//
// Environment: MFAD_URL, MFAD_SCREENSHOTS, MFAD_ALICE_PASS.

import {
  addVirtualAuthenticator, assert, assertEqual, env, expectPath, signInWithCode, signOut,
  start, text, totpCode,
} from './lib.mjs';

const pass = env('MFAD_ALICE_PASS');
const run = await start();
const page = await run.page();
// The authenticator belongs to this page and keeps its passkey across the
// sign-out, as a laptop's does.
const authenticator = await addVirtualAuthenticator(page);

await run.step('the sign-in page explains a lost phone', async () => {
  await page.goto('/login');
  assert(await page.isVisible('#lost-heading'), 'no "Lost your phone?" section on /login');
  await page.waitForSelector('#passkey-sign-in', { state: 'visible' });
  await run.shot(page, 'login');
});

await run.step('alice signs in with her access pass', async () => {
  await signInWithCode(page, 'alice', pass);
  assert(await page.isVisible('#limited-session'),
    'a session opened with a pass does not say what it may not do');
});

let secret;
await run.step('alice adds an authenticator app', async () => {
  await page.fill('#totp-name', 'Phone');
  await page.click('#add-totp');
  await page.waitForSelector('#totp-secret');
  await page.waitForSelector('#totp-qr');
  secret = (await text(page, '#totp-secret')).replace(/\s+/g, '');
  assert(/^[A-Z2-7]{16,}$/.test(secret), `#totp-secret = ${JSON.stringify(secret)}, want base32`);
  await run.shot(page, 'totp-enrol');
});

await run.step('alice confirms it with a code computed from the key', async () => {
  await page.fill('#code', totpCode(secret));
  await page.click('#confirm-totp');
  // The first everyday factor, and no backup codes: the page prompts.
  await expectPath(page, '/security/backup-codes', 'after confirming the first authenticator');
  const flash = await text(page, '#flash');
  assert(/backup codes/.test(flash), `#flash = ${JSON.stringify(flash)}, want the prompt ` +
    'to make backup codes');
  await run.shot(page, 'backup-codes-prompt');
});

let codes;
await run.step('alice makes backup codes and confirms she saved them', async () => {
  await page.click('#generate-codes');
  await page.waitForSelector('#backup-codes');
  codes = await page.locator('#backup-codes li code').allTextContents();
  assertEqual(codes.length, 10, 'number of backup codes shown');
  await run.shot(page, 'backup-codes');
  await page.check('#codes-saved');
  await page.click('#codes-done');
  await expectPath(page, '/security', 'after confirming the codes are saved');
  assert(/^10 of 10/.test(await text(page, '#codes-remaining')),
    `#codes-remaining = ${JSON.stringify(await text(page, '#codes-remaining'))}, want 10 of 10`);
});

await run.step('alice registers a passkey', async () => {
  await page.fill('#key-name', 'Laptop');
  await page.click('#register-key');
  const row = page.locator('#key-list tr', { hasText: 'Laptop' });
  try {
    await row.waitFor();
  } catch {
    throw new Error(`no key "Laptop" listed; #key-status says ` +
      JSON.stringify(await text(page, '#key-status').catch(() => '')));
  }
  assert(await row.locator('.tag', { hasText: 'passkey' }).count() === 1,
    'the new key is not marked as a passkey');
  const creds = await authenticator.credentials();
  assertEqual(creds.length, 1, 'credentials in the virtual authenticator');
  assert(creds[0].isResidentCredential, 'the credential is not discoverable (resident)');
  await run.shot(page, 'passkey-registered');
});

await run.step('alice signs out and back in with the passkey', async () => {
  await signOut(page);
  const button = page.locator('#passkey-sign-in');
  await button.waitFor({ state: 'visible' });
  await button.click();
  try {
    await expectPath(page, '/security', 'passkey sign-in');
  } catch (err) {
    throw new Error(`${err.message}; #passkey-status says ` +
      JSON.stringify(await text(page, '#passkey-status').catch(() => '')));
  }
  assertEqual(await text(page, '#signed-in-user'), 'alice', 'the user the passkey signed in');
  // A passkey is an everyday factor: nothing is limited.
  assertEqual(await page.locator('#limited-session').count(), 0,
    'limited-session notes after a passkey sign-in');
  const [cred] = await authenticator.credentials();
  assert(cred.signCount >= 1, `sign count = ${cred.signCount}, want at least 1`);
});

await run.step('alice renames her passkey', async () => {
  await page.click('a[aria-label="Manage Laptop"]');
  await expectPath(page, /^\/security\/factors\/webauthn\//, 'the page of the passkey');
  await run.shot(page, 'factor');
  await page.fill('#name', 'Work laptop');
  await page.click('#rename');
  await expectPath(page, '/security', 'after renaming');
  await page.locator('#key-list tr', { hasText: 'Work laptop' }).waitFor();
});

let ownPass;
await run.step('alice issues herself a pass for a new device', async () => {
  // A fresh passkey sign-in is what self-service asks for.
  await page.goto('/security/access-pass');
  await page.click('#issue-pass');
  await page.waitForSelector('#access-pass');
  ownPass = (await text(page, '#access-pass')).replace(/\s+/g, '');
  assert(await page.isVisible('#pass-expires'), 'the pass is shown without its expiry');
  await run.shot(page, 'access-pass');

  const device = await run.page();
  await signInWithCode(device, 'alice', ownPass);
  await device.context().close();
});

await run.step('alice sees her sign-ins on the activity page', async () => {
  await page.goto('/activity');
  const rows = page.locator('#activity tbody tr');
  await rows.first().waitFor();
  const log = await text(page, '#activity');
  for (const want of [/passkey/i, /access pass/i]) {
    assert(want.test(log), `the activity page does not mention ${want}: ${log}`);
  }
  await run.shot(page, 'activity');
});

await run.step('alice signs in with a printed backup code and has one fewer', async () => {
  await signOut(page);
  await signInWithCode(page, 'alice', codes[3]);
  const left = await text(page, '#codes-remaining');
  assert(/^9 of 10 backup codes left/.test(left),
    `#codes-remaining = ${JSON.stringify(left)}, want "9 of 10 backup codes left"`);
  await run.shot(page, 'security');
});

await run.step('the used backup code does not work again', async () => {
  await signOut(page);
  await page.fill('#user', 'alice');
  await page.fill('#code', codes[3]);
  await page.click('#sign-in');
  await page.waitForSelector('#problem');
  assertEqual(await page.locator('#sign-out').count(), 0, 'sign-out buttons after a refusal');
});

await run.done();
