/** buildNotify as the composition root wires it: config defaults, the store's database, site names, the inbox. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotifyConfig } from '../../../cloud/config/schema.js';
import { buildNotify } from '../../../cloud/notify/index.js';
import { MemoryCloudStore } from '../../../cloud/store/memory.js';
import { recipient, request, T0 } from './support.js';

describe('buildNotify', () => {
  it('has safe defaults and rejects bad settings with their paths', () => {
    const c = NotifyConfig.parse({});
    assert.deepEqual([c.language, c.timeoutMs, c.retry.attempts], ['zh', 10_000, 3]);
    const bad = NotifyConfig.safeParse({ language: 'fr', retry: { attempts: 0 }, smtp: { host: 'mx' } });
    assert.equal(bad.success, false);
    const paths = bad.error?.issues.map((i) => i.path.join('.')).sort();
    assert.deepEqual(paths, ['language', 'retry.attempts', 'smtp.from']);
  });

  it('refuses to deliver before start, then delivers to its inbox with site names from the registry', async () => {
    const store = new MemoryCloudStore();
    await store.migrate();
    await store.upsertSite({ path: 'pudong', level: 'district', name: '浦东新区' });
    await store.upsertSite({ path: 'pudong/zhangjiang', level: 'town', name: '张江镇' });
    await store.upsertSite({ path: 'pudong/zhangjiang/lane-100', level: 'community', name: '100弄' });
    const secret = 'inbox-secret-abcdef0123';
    const notify = buildNotify(
      {
        language: 'en',
        timeoutMs: 10_000,
        retry: { attempts: 1, baseDelayMs: 0, factor: 2, maxDelayMs: 0 },
        inbox: { host: '127.0.0.1', port: 0, secret, keep: 10 },
      },
      { store, clock: () => T0 },
    );
    await assert.rejects(notify.notifier.deliver(request()), { code: 'CLOUD_ERR_NOTIFY_NOT_STARTED' });
    await notify.start();
    try {
      const inbox = notify.inbox!;
      const [r] = await notify.notifier.deliver(
        request({
          recipients: [
            recipient([{ kind: 'webhook', url: inbox.webhookUrl, secret }], { lang: undefined as never }),
          ],
        }),
      );
      assert.equal(r?.ok, true);
      const text = inbox.messages()[0]?.payload.text ?? '';
      assert.ok(text.includes('Site: 浦东新区 / 张江镇 / 100弄 (pudong/zhangjiang/lane-100)'), text);
      assert.equal((await notify.store.attemptsByRequest('req-1')).length, 1);
    } finally {
      await notify.stop();
    }
  });
});
