/**
 * Console sign-in and sessions in a real browser (headless Debian Chromium via playwright-core)
 * against a running cloud on SQLite: a wrong password refused, cookie flags, sign-out, lockout.
 * Screenshots are kept in test/artifacts/console/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call } from '../cloud/http/harness.js';
import { type ConsoleWorld, PASSWORD, sessionCookie, shot, startConsoleWorld, USERS } from './harness.js';

// Callbacks passed to page.evaluate/waitForFunction run in the browser; the Node program has no DOM
// lib (adding it would change other files' types), so the few browser globals they use are declared
// here, module-local.
// biome-ignore lint/suspicious/noExplicitAny: browser globals inside page callbacks
declare const document: any;

let w: ConsoleWorld;
before(async () => {
  w = await startConsoleWorld();
});
after(async () => {
  await w?.stop();
});

describe('console sign-in', () => {
  test('sign-in: wrong password refused, right one signs in with a safe cookie, sign-out ends it', async () => {
    const { context, page } = await w.newPage();
    await page.goto(`${w.url}/console`);
    await page.fill('#username', USERS.zjDuty.username);
    await page.fill('#password', 'not-the-password');
    await page.click('#signin');
    await page.waitForFunction(() =>
      document.querySelector('#signin-error')?.textContent?.includes('CLOUD_ERR_AUTH'),
    );
    assert.match((await page.textContent('#signin-error')) ?? '', /wrong user name or password/);
    await page.screenshot({ path: shot('signin-refused') });

    await page.fill('#password', PASSWORD);
    await page.click('#signin');
    await page.waitForSelector('#nav-board');
    const cookie = (await context.cookies()).find((c) => c.name === 'ds_session');
    assert.ok(cookie);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.match(cookie.value, /^dss_/);
    assert.match((await page.textContent('#who')) ?? '', /zj-duty/);

    const header = await sessionCookie(context);
    const me = await call(w.url, 'GET', '/console/api/me', { headers: { cookie: header } });
    assert.equal(me.status, 200);
    assert.equal(me.body.user.scope, 'pudong/zhangjiang');

    await page.click('#signout');
    await page.waitForSelector('#signin');
    const again = await call(w.url, 'GET', '/console/api/me', { headers: { cookie: header } });
    assert.equal(again.status, 401, 'the ended session is refused');
    await context.close();
  });
  test('lockout after repeated failures is shown', async () => {
    const { context, page } = await w.newPage();
    await page.goto(`${w.url}/console`);
    for (let i = 0; i < 5; i++) {
      await page.fill('#username', USERS.lockme.username);
      await page.fill('#password', `wrong-${i}`);
      await page.click('#signin');
      await page.waitForFunction((n) => {
        const t = document.querySelector('#signin-error')?.textContent ?? '';
        return (
          t.includes('CLOUD_ERR') &&
          document.querySelector('#signin')?.hasAttribute('disabled') === false &&
          n >= 0
        );
      }, i);
    }
    await page.fill('#password', PASSWORD);
    await page.click('#signin');
    await page.waitForFunction(() =>
      document.querySelector('#signin-error')?.textContent?.includes('CLOUD_ERR_ACCOUNT_LOCKED'),
    );
    assert.match((await page.textContent('#signin-error')) ?? '', /from this address is paused until/);
    await page.screenshot({ path: shot('signin-locked') });
    await context.close();
  });
});
