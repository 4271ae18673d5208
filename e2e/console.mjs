// The staff console: the admin signs in with an authenticator code, finds
// alice and issues her an access pass with a reason, and alice signs in
// with the pass as read out to her. Alice asks for another from the
// sign-in page, and the admin approves it from the queue. A policy out of
// bounds is refused with its problems; the audit log shows it all, with an
// intact chain. A helpdesk agent may look at the admin's page but not act
// on it: the page offers nothing, and the server refuses the request when
// it is made anyway.
//
// Environment: MFAD_URL, MFAD_SCREENSHOTS, MFAD_ADMIN_TOKEN, and the user
// names and authenticator keys of the two members of staff:
// MFAD_ADMIN_USER, MFAD_ADMIN_TOTP, MFAD_HELPDESK_USER, MFAD_HELPDESK_TOTP.

import {
  assert, assertEqual, env, expectPath, pageText, signInWithCode, start, text, totpCode,
} from './lib.mjs';

const admin = env('MFAD_ADMIN_USER');
const adminTOTP = env('MFAD_ADMIN_TOTP');
const helpdesk = env('MFAD_HELPDESK_USER');
const helpdeskTOTP = env('MFAD_HELPDESK_TOTP');
const token = env('MFAD_ADMIN_TOKEN');
const run = await start();

// passOf asks the API, as an admin token, for the state of user's pass:
// null when there is none.
async function passOf(user) {
  const resp = await fetch(`${run.base}/v1/users/${user}/access-pass`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (resp.status === 404) return null;
  assertEqual(resp.status, 200, `GET /v1/users/${user}/access-pass status`);
  return resp.json();
}

// passForm returns where the page's form around #issue-pass posts and
// the fields it sends, as the browser would send them.
async function passForm(page) {
  return page.locator('form:has(#issue-pass)').evaluate((form) => ({
    action: new URL(form.action).pathname,
    fields: Object.fromEntries(new FormData(form)),
  }));
}

const staff = await run.page();

await run.step('the admin signs in with an authenticator code', async () => {
  await signInWithCode(staff, admin, totpCode(adminTOTP));
  const link = staff.locator('nav a[href^="/console"]');
  assert(await link.count() >= 1, 'no link to /console in the navigation of a member of staff');
});

await run.step('the admin finds alice', async () => {
  await staff.goto('/console/users');
  await staff.fill('#user-search', 'alice');
  await staff.click('#search');
  const found = staff.locator('#users a', { hasText: 'alice' });
  await found.first().waitFor();
  await run.shot(staff, 'console-users');
  await found.first().click();
  await expectPath(staff, '/console/users/alice', 'the user page of alice');
  await staff.waitForSelector('#issue-pass');
  await run.shot(staff, 'console-user');
});

let pass;
await run.step('the admin issues alice an access pass with a reason', async () => {
  await staff.fill('#pass-reason', 'Lost phone; called back on her desk line');
  await run.shot(staff, 'console-issue-pass', 'section[aria-labelledby="pass-heading"]');
  await staff.click('#issue-pass');
  const readout = staff.locator('#pass-readout');
  try {
    await readout.waitFor();
  } catch {
    throw new Error('no #pass-readout after #issue-pass; the page says: ' +
      await pageText(staff, 'h1, #problem, #flash, .field-error, #pending-approval'));
  }
  pass = (await readout.textContent()).replace(/\s+/g, '');
  assert(pass.length >= 8, `#pass-readout = ${JSON.stringify(pass)}, want a pass`);
  assert(await staff.isVisible('#pass-expires'), 'the pass is shown without its expiry');
  await run.shot(staff, 'pass-readout');
});

await run.step('alice, in another browser, signs in with the pass read out to her', async () => {
  const alice = await run.page();
  await signInWithCode(alice, 'alice', pass);
  assert(await alice.isVisible('#limited-session'),
    'a session opened with a pass does not say what it may not do');
  await alice.context().close();
  const state = await passOf('alice');
  assertEqual(state && state.state, 'used', 'state of alice\'s pass after signing in');
});

await run.step('alice asks the helpdesk for a pass from the sign-in page', async () => {
  const alice = await run.page();
  await alice.goto('/login');
  await alice.fill('#request-user', 'alice');
  await alice.fill('#request-message', 'On my desk line today, 555-0100');
  await alice.click('#request-pass');
  await alice.waitForSelector('#request-sent');
  await alice.context().close();
});

await run.step('the admin approves the request from the queue', async () => {
  await staff.goto('/console/requests');
  const row = staff.locator('#requests tbody tr', { hasText: 'alice' });
  await row.waitFor();
  assert(/555-0100/.test(await row.textContent()), 'the request lacks alice\'s message');
  await row.locator('input[name="reason"]').first().fill('Called back on 555-0100');
  await run.shot(staff, 'console-requests');
  await row.locator('button[id^="approve-"]').click();
  await staff.waitForSelector('#pass-readout');
  pass = (await staff.locator('#pass-readout').textContent()).replace(/\s+/g, '');
  await staff.goto('/console/requests');
  assertEqual(await staff.locator('#requests tbody tr', { hasText: 'alice' }).count(), 0,
    'requests of alice still waiting after the approval');
});

await run.step('alice signs in with the approved pass', async () => {
  const alice = await run.page();
  await signInWithCode(alice, 'alice', pass);
  await alice.context().close();
});

await run.step('the admin saves a policy out of bounds and is told why', async () => {
  await staff.goto('/console/policy');
  await staff.fill('#policy-doc', '{"access_pass": {"max_lifetime": "90d"}}');
  await staff.click('#save-policy');
  const problems = staff.locator('#policy-problems');
  await problems.waitFor();
  const said = await text(staff, '#policy-problems');
  assert(/max_lifetime/.test(said), `#policy-problems = ${JSON.stringify(said)}, ` +
    'want a word about max_lifetime');
  await run.shot(staff, 'console-policy');
});

await run.step('the admin reads the audit log and its chain', async () => {
  await staff.goto('/console/audit');
  await staff.click('#verify-chain');
  const chain = await text(staff, '#chain-status');
  assert(/intact/i.test(chain), `#chain-status = ${JSON.stringify(chain)}, want intact`);
  await staff.fill('#audit-user', 'alice');
  await staff.fill('#audit-action', 'access_pass.');
  await staff.click('#filter');
  await staff.waitForURL(/action=access_pass/);
  const log = await text(staff, '#audit');
  assert(/access_pass\.issue/.test(log), 'the audit log does not show access_pass.issue');
  assert(!/session\.create/.test(log), 'the filtered audit log shows session.create');
  await run.shot(staff, 'audit');
});
await staff.context().close();

const agent = await run.page();

await run.step('the helpdesk agent signs in and may issue alice a pass', async () => {
  await signInWithCode(agent, helpdesk, totpCode(helpdeskTOTP));
  await agent.goto('/console/users/alice');
  await agent.waitForSelector('#issue-pass');
});

await run.step('the helpdesk agent is offered nothing to do to the admin', async () => {
  await agent.goto(`/console/users/${admin}`);
  await expectPath(agent, `/console/users/${admin}`, 'the user page of the admin');
  assertEqual(await agent.locator('#issue-pass').count(), 0,
    `#issue-pass buttons on /console/users/${admin} for helpdesk`);
  for (const button of ['#grant-bypass', '#generate-codes', '#unlock', 'button.danger']) {
    assertEqual(await agent.locator(`main ${button}`).count(), 0,
      `${button} buttons on /console/users/${admin} for helpdesk`);
  }
  assert(await agent.isVisible('#hands-off'), 'the page does not say why nothing is offered');
  await run.shot(agent, 'console-helpdesk');
});

await run.step('the server refuses the helpdesk agent a pass for the admin', async () => {
  // The same form the page has for alice, sent by the agent's browser
  // (its cookie, and the Origin a browser sends) for the admin instead.
  await agent.goto('/console/users/alice');
  await agent.fill('#pass-reason', 'Caller says he is the admin');
  const form = await passForm(agent);
  assertEqual(form.action, '/console/users/alice/access-pass', 'where the pass form posts');
  const headers = { Origin: run.base };
  const resp = await agent.request.post(`/console/users/${admin}/access-pass`,
    { form: form.fields, headers, maxRedirects: 0 });
  assertEqual(resp.status(), 403, `POST /console/users/${admin}/access-pass status`);
  assertEqual(await passOf(admin), null, `the admin's pass after the refused request`);

  // The request itself is sound: for alice it issues a pass.
  const ok = await agent.request.post(form.action, { form: form.fields, headers });
  assert(ok.status() === 200, `POST ${form.action} status = ${ok.status()}, want 200`);
  const state = await passOf('alice');
  assertEqual(state && state.state, 'active', 'state of alice\'s new pass');
});

await run.done();
