/**
 * WeCom (企业微信) group robot. Documented format (developer.work.weixin.qq.com/document/path/91770,
 * "群机器人配置说明"):
 *   POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY
 *   {"msgtype": "markdown", "markdown": {"content": "..."}}   content ≤ 4096 bytes, UTF-8
 * The answer is HTTP 200 even on failure: only `{"errcode": 0, "errmsg": "ok"}` means delivered.
 * Each robot takes at most 20 messages a minute; beyond that it answers errcode 45009.
 *
 * @mentions: only the `text` type takes `mentioned_mobile_list` (phone numbers of group members
 * to @, content ≤ 2048 bytes); markdown content can @ only by WeCom userid (`<@userid>`), which a
 * roster of phone numbers does not have. So a recipient with a phone gets the message as text
 * with their number in `mentioned_mobile_list` — the @ is what rings a phone at night — and one
 * without a phone gets the markdown. Links in text messages are clickable in the WeCom client.
 */
import { nationalNumber } from '../phone.js';
import { compactText } from '../short-text.js';
import type { AddressOf, Channel, SendContext, SendOutcome } from './channel.js';
import { redactUrl, urlSecrets } from './channel.js';
import { postToRobot } from './http.js';

export const WECOM_MAX_CONTENT_BYTES = 4096;
export const WECOM_MAX_TEXT_BYTES = 2048;

/** -1 system busy; 45009 API call frequency limit: both may pass on a later try. */
const WECOM_RETRYABLE = new Set([-1, 45009]);

export class WecomChannel implements Channel<'wecom'> {
  readonly kind = 'wecom' as const;

  async send(address: AddressOf<'wecom'>, ctx: SendContext): Promise<SendOutcome> {
    const phone = ctx.recipient.phone;
    const body = JSON.stringify(
      phone
        ? {
            msgtype: 'text',
            text: {
              content:
                Buffer.byteLength(ctx.message.text, 'utf8') <= WECOM_MAX_TEXT_BYTES
                  ? ctx.message.text
                  : compactText(ctx.message, WECOM_MAX_TEXT_BYTES),
              mentioned_mobile_list: [nationalNumber(phone)],
            },
          }
        : { msgtype: 'markdown', markdown: { content: ctx.message.markdown(WECOM_MAX_CONTENT_BYTES) } },
    );
    return postToRobot(address.webhookUrl, body, ctx.signal, WECOM_RETRYABLE);
  }

  redact(address: AddressOf<'wecom'>): string {
    return redactUrl(address.webhookUrl);
  }

  secrets(address: AddressOf<'wecom'>): string[] {
    return urlSecrets(address.webhookUrl);
  }
}
