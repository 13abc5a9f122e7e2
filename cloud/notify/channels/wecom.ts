/**
 * WeCom (企业微信) group robot. Documented format (developer.work.weixin.qq.com/document/path/91770,
 * "群机器人配置说明"):
 *   POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY
 *   {"msgtype": "markdown", "markdown": {"content": "..."}}   content ≤ 4096 bytes, UTF-8
 * The answer is HTTP 200 even on failure: only `{"errcode": 0, "errmsg": "ok"}` means delivered.
 * Each robot takes at most 20 messages a minute; beyond that it answers errcode 45009.
 */
import type { AddressOf, Channel, SendContext, SendOutcome } from './channel.js';
import { redactUrl, urlSecrets } from './channel.js';
import { postToRobot } from './http.js';

export const WECOM_MAX_CONTENT_BYTES = 4096;

/** -1 system busy; 45009 API call frequency limit: both may pass on a later try. */
const WECOM_RETRYABLE = new Set([-1, 45009]);

export class WecomChannel implements Channel<'wecom'> {
  readonly kind = 'wecom' as const;

  async send(address: AddressOf<'wecom'>, ctx: SendContext): Promise<SendOutcome> {
    const body = JSON.stringify({
      msgtype: 'markdown',
      markdown: { content: ctx.message.markdown(WECOM_MAX_CONTENT_BYTES) },
    });
    return postToRobot(address.webhookUrl, body, ctx.signal, WECOM_RETRYABLE);
  }

  redact(address: AddressOf<'wecom'>): string {
    return redactUrl(address.webhookUrl);
  }

  secrets(address: AddressOf<'wecom'>): string[] {
    return urlSecrets(address.webhookUrl);
  }
}
