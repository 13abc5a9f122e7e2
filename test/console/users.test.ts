/**
 * The console's account page (#/users) in headless Chromium against a cloud on SQLite: a town
 * admin sees only its town's users, disables one (whose open console session stops at once) and
 * enables it again, resets a password (a weak one refused verbatim), lists a user's API tokens
 * and revokes one (refused from the next request on); a duty user changes its own password, its
 * other session ends and the page it used stays signed in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { basic, bearer, call } from '../cloud/http/harness.js';
import { type ConsoleWorld, PASSWORD, sessionCookie, shot, startConsoleWorld, USERS } from './harness.js';

// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page callbacks
declare const document: any;

const NEW_PASSWORD = 'lantern orchard 7 river';

let w: ConsoleWorld;
before(async () => {
  w = await startConsoleWorld();
  for (const u of [
    { username: 'zj-admin', scope: 'pudong/zhangjiang', role: 'admin' },
    { username: 'zj-target', scope: 'pudong/zhangjiang/lane-100', role: 'duty' },
    { username: 'zj-self', scope: 'pudong/zhangjiang', role: 'duty' },
  ]) {
    const r = await call(w.url, 'POST', '/v1/users', {
      auth: bearer(w.adminToken),
      json: { ...u, password: PASSWORD },
    });
    assert.equal(r.status, 201);
  }
});
after(async () => {
  await w?.stop();
});

/** Waits until the page's status line contains `text`. */
const statusHas = (page: import('playwright-core').Page, text: string) =>
  page.waitForFunction(
    (x: string) => document.querySelector('#users-status')?.textContent?.includes(x),
    text,
  );

describe('console accounts page', () => {
  test('a town admin disables, enables, resets a password and revokes a token, in its town only', async () => {
    const { page } = await w.newPage();
    await w.signIn(page, 'zj-admin');
    const target = await w.newPage();
    await w.signIn(target.page, 'zj-target');
    const targetCookie = await sessionCookie(target.context);
    const me = () => call(w.url, 'GET', '/console/api/me', { headers: { cookie: targetCookie } });
    assert.equal((await me()).status, 200);

    await page.click('#nav-users');
    await page.waitForSelector('#users-table tr[data-user="zj-target"]');
    const listed = await page.$$eval('#users-table tbody tr', (rows) =>
      rows.map((r) => (r as unknown as { dataset: { user: string } }).dataset.user),
    );
    assert.ok(listed.includes(USERS.zjDuty.username) && listed.includes('zj-target'));
    assert.ok(!listed.includes(USERS.hmDuty.username) && !listed.includes('admin'), String(listed));

    const row = '#users-table tr[data-user="zj-target"]';
    await page.click(`${row} .u-disable`);
    await statusHas(page, '✓');
    await page.waitForSelector(`${row} .u-enable`);
    assert.match((await page.textContent(`${row} .u-state`)) ?? '', /已停用/);
    assert.match((await page.textContent('#users-status')) ?? '', /已结束会话 1 个/);
    assert.equal((await me()).status, 401, 'the disabled user’s session stopped at once');
    await target.page.reload();
    await target.page.waitForSelector('#signin');

    await page.click(`${row} .u-enable`);
    await page.waitForSelector(`${row} .u-disable`);
    assert.match((await page.textContent(`${row} .u-state`)) ?? '', /正常/);

    await page.fill(`${row} .u-newpw`, 'short');
    await page.click(`${row} .u-reset`);
    await statusHas(page, 'CLOUD_ERR_PASSWORD_POLICY');
    assert.match(
      (await page.textContent('#users-status')) ?? '',
      /服务器拒绝 \(400 CLOUD_ERR_PASSWORD_POLICY\)：/,
    );
    await page.fill(`${row} .u-newpw`, NEW_PASSWORD);
    await page.click(`${row} .u-reset`);
    await statusHas(page, '密码已重置');
    const minted = await call(w.url, 'POST', '/v1/api-tokens', {
      auth: basic('zj-target', NEW_PASSWORD),
      json: { label: '夜班脚本' },
    });
    assert.equal(minted.status, 201, 'the reset password signs in');
    assert.equal((await call(w.url, 'GET', '/v1/sites', { auth: bearer(minted.body.token) })).status, 200);

    await page.click(`${row} .u-tokens`);
    const tokenRow = `#tokens-table tr[data-token="${minted.body.id}"]`;
    await page.waitForSelector(tokenRow);
    assert.match((await page.textContent(tokenRow)) ?? '', /夜班脚本/);
    assert.match((await page.textContent(`${tokenRow} .t-state`)) ?? '', /有效/);
    assert.doesNotMatch((await page.textContent('#tokens')) ?? '', /dsa_/);
    await page.screenshot({ path: shot('users-admin') });
    await page.click(`${tokenRow} .t-revoke`);
    await page.waitForFunction(
      (sel: string) => document.querySelector(sel)?.textContent?.includes('已吊销'),
      `${tokenRow} .t-state`,
    );
    assert.equal(
      (await call(w.url, 'GET', '/v1/sites', { auth: bearer(minted.body.token) })).status,
      401,
      'the revoked token is refused at once',
    );
    // The trail on the page lists what was just done, newest first.
    await page.waitForSelector('#account-audit li[data-action="token.revoked"]');
    const trail = await page.$$eval('#account-audit li', (items) =>
      items.map((li) => (li as unknown as { dataset: { action: string } }).dataset.action),
    );
    assert.equal(trail[0], 'token.revoked');
    for (const action of ['user.disabled', 'user.enabled', 'password.reset', 'token.created'])
      assert.ok(trail.includes(action), action);
    assert.match((await page.textContent('#account-audit')) ?? '', /吊销令牌 · zj-target · 操作人 zj-admin/);
  });

  test('a duty user changes its own password: the other session ends, this page stays', async () => {
    const { page } = await w.newPage();
    await w.signIn(page, 'zj-self');
    const other = await w.newPage();
    await w.signIn(other.page, 'zj-self');
    const otherCookie = await sessionCookie(other.context);
    await page.click('#nav-users');
    await page.waitForSelector('#my-password');
    assert.equal(await page.$('#users-table'), null, 'no user management for a duty user');

    await page.fill('#pw-current', 'not my password');
    await page.fill('#pw-new', NEW_PASSWORD);
    await page.click('#pw-submit');
    await statusHas(page, 'CLOUD_ERR_PASSWORD_CURRENT');
    assert.equal(
      (await call(w.url, 'GET', '/console/api/me', { headers: { cookie: otherCookie } })).status,
      200,
    );

    await page.fill('#pw-current', PASSWORD);
    await page.fill('#pw-new', NEW_PASSWORD);
    await page.click('#pw-submit');
    await statusHas(page, '✓');
    assert.match((await page.textContent('#users-status')) ?? '', /已结束其他会话 1 个/);
    assert.equal(
      (await call(w.url, 'GET', '/console/api/me', { headers: { cookie: otherCookie } })).status,
      401,
      'the other session ended at once',
    );
    await page.click('#nav-board');
    await page.waitForSelector('#nav-users');
    assert.equal(await page.$('#signin'), null, 'this page is still signed in');

    // G then U: the accounts page from the keyboard.
    await page.keyboard.press('g');
    await page.keyboard.press('u');
    await page.waitForSelector('#my-password');
    await page.click('#lang');
    await page.waitForFunction(() => document.querySelector('main h2')?.textContent === 'Accounts');
    assert.match((await page.textContent('#my-password')) ?? '', /Change password/);
    await page.screenshot({ path: shot('users-self-en') });
  });
});
