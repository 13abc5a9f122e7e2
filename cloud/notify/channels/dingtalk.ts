/**
 * DingTalk (钉钉) custom robot with the "加签" (signature) security setting. Documented format
 * (open.dingtalk.com, "自定义机器人安全设置" and "自定义机器人发送群消息"):
 *   string_to_sign = timestamp + "\n" + secret          timestamp in ms
 *   sign = urlEncode(base64(HMAC-SHA256(key = secret, string_to_sign)))
 *   POST https://oapi.dingtalk.com/robot/send?access_token=TOKEN&timestamp=…&sign=…
 *   {"msgtype": "markdown", "markdown": {"title": "...", "text": "..."}}
 * The timestamp must be within one hour of DingTalk's clock. Only `errcode: 0` means delivered;
 * 130101 is "send too fast" (20 messages a minute per robot), 310000 a refused signature,
 * keyword or IP.
 *
 * @mentions ("自定义机器人发送群消息", the `at` object): `at.atMobiles` lists the numbers to @, and
 * each must also appear in the text as `@<number>` for the @ to show; this holds for markdown as
 * for text. A recipient with a phone is @-ed this way; members not in the group are not notified.
 */
import { createHmac } from 'node:crypto';
import { nationalNumber } from '../phone.js';
import type { AddressOf, Channel, SendContext, SendOutcome } from './channel.js';
import { redactUrl, urlSecrets } from './channel.js';
import { postToRobot } from './http.js';

/** DingTalk publishes no exact byte limit for markdown; stay well under what robots accept. */
export const DINGTALK_MAX_TEXT_BYTES = 5000;

const DINGTALK_RETRYABLE = new Set([-1, 130101]);

export function dingtalkSign(secret: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
}

/** The robot URL with `timestamp` and `sign` added (URLSearchParams does the urlEncode). */
export function dingtalkSignedUrl(webhookUrl: string, secret: string, timestamp: number): string {
  const url = new URL(webhookUrl);
  url.searchParams.set('timestamp', String(timestamp));
  url.searchParams.set('sign', dingtalkSign(secret, timestamp));
  return url.toString();
}

export class DingtalkChannel implements Channel<'dingtalk'> {
  readonly kind = 'dingtalk' as const;

  async send(address: AddressOf<'dingtalk'>, ctx: SendContext): Promise<SendOutcome> {
    const mobile = ctx.recipient.phone ? nationalNumber(ctx.recipient.phone) : undefined;
    const mention = mobile ? `\n\n@${mobile}` : '';
    const text = ctx.message.markdown(DINGTALK_MAX_TEXT_BYTES - Buffer.byteLength(mention, 'utf8')) + mention;
    const body = JSON.stringify({
      msgtype: 'markdown',
      // The title is what the chat list and the phone's notification show.
      markdown: { title: ctx.message.title, text },
      ...(mobile ? { at: { atMobiles: [mobile], isAtAll: false } } : {}),
    });
    const url = dingtalkSignedUrl(address.webhookUrl, address.secret, ctx.now);
    return postToRobot(url, body, ctx.signal, DINGTALK_RETRYABLE);
  }

  redact(address: AddressOf<'dingtalk'>): string {
    return redactUrl(address.webhookUrl);
  }

  secrets(address: AddressOf<'dingtalk'>): string[] {
    return [address.secret, ...urlSecrets(address.webhookUrl)];
  }
}
