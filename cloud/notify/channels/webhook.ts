/**
 * Generic webhook: POST the notification as JSON (message.ts `WebhookPayload`), signed with the
 * address's secret (signature.ts). Any 2xx answer means delivered.
 */
import { webhookPayload } from '../message.js';
import { signWebhook } from '../signature.js';
import type { AddressOf, Channel, SendContext, SendOutcome } from './channel.js';
import { redactUrl, urlSecrets } from './channel.js';
import { postJson, retryableStatus } from './http.js';

export class WebhookChannel implements Channel<'webhook'> {
  readonly kind = 'webhook' as const;

  async send(address: AddressOf<'webhook'>, ctx: SendContext): Promise<SendOutcome> {
    const body = JSON.stringify(webhookPayload(ctx.request, ctx.recipient, ctx.message, ctx.now));
    const timestamp = String(ctx.now);
    const answer = await postJson(
      address.url,
      body,
      {
        'x-doorstep-timestamp': timestamp,
        'x-doorstep-signature': signWebhook(address.secret, timestamp, body),
        'x-doorstep-request': ctx.request.id,
      },
      ctx.signal,
    );
    if (answer.status >= 200 && answer.status < 300)
      return { ok: true, httpStatus: answer.status, retryable: false };
    return {
      ok: false,
      httpStatus: answer.status,
      error: `HTTP ${answer.status}${answer.text ? `: ${answer.text.slice(0, 200)}` : ''}`,
      retryable: retryableStatus(answer.status),
    };
  }

  redact(address: AddressOf<'webhook'>): string {
    return redactUrl(address.url);
  }

  secrets(address: AddressOf<'webhook'>): string[] {
    return [address.secret, ...urlSecrets(address.url)];
  }
}
