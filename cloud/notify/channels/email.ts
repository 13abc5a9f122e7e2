/**
 * E-mail over SMTP with nodemailer: one message per recipient address, plain text plus HTML, UTF-8
 * (nodemailer encodes a Chinese subject as RFC 2047 words and the bodies as quoted-printable or
 * base64 as needed). Security: `starttls` requires the STARTTLS upgrade (RFC 3207, port 587),
 * `tls` is implicit TLS (RFC 8314, port 465), `none` is for a local relay only.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import type { NotifyConfig } from '../../config/schema.js';
import type { AddressOf, Channel, SendContext, SendOutcome } from './channel.js';

export type SmtpConfig = NonNullable<NotifyConfig['smtp']>;

/** SMTP reply codes 4xx are transient (RFC 5321 §4.2.1); 5xx are permanent. */
function smtpRetryable(error: unknown): boolean {
  const code = (error as { responseCode?: number }).responseCode;
  return code === undefined || code < 500;
}

export class EmailChannel implements Channel<'email'> {
  readonly kind = 'email' as const;
  readonly #transport: Transporter;
  readonly #from: string;
  readonly #secrets: string[];

  constructor(config: SmtpConfig, timeoutMs: number) {
    this.#from = config.from;
    this.#secrets = config.auth ? [config.auth.pass] : [];
    this.#transport = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.security === 'tls',
      requireTLS: config.security === 'starttls',
      ignoreTLS: config.security === 'none',
      ...(config.auth ? { auth: { user: config.auth.user, pass: config.auth.pass } } : {}),
      // nodemailer's own limits (its defaults are minutes long) stay within one attempt.
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      tls: { rejectUnauthorized: config.rejectUnauthorized },
    });
  }

  async send(address: AddressOf<'email'>, ctx: SendContext): Promise<SendOutcome> {
    const sending = this.#transport.sendMail({
      from: this.#from,
      to: address.address,
      subject: ctx.message.subject,
      text: ctx.message.text,
      html: ctx.message.html,
      headers: { 'X-Doorstep-Request': ctx.request.id },
    });
    // nodemailer takes no AbortSignal: the attempt ends when the signal fires; a late answer
    // is ignored (its socketTimeout closes the connection soon after).
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(ctx.signal.reason ?? new Error('aborted'));
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener('abort', onAbort, { once: true });
    });
    sending.catch(() => {});
    try {
      const info = await Promise.race([sending, aborted]);
      if ((info.rejected?.length ?? 0) > 0)
        return { ok: false, error: `rejected by the server: ${info.response}`, retryable: false };
      return { ok: true, retryable: false };
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      const code = (error as { responseCode?: number }).responseCode;
      return {
        ok: false,
        error: `${(error as Error).message ?? String(error)}`.slice(0, 300),
        retryable: smtpRetryable(error),
        ...(code !== undefined ? { errcode: code } : {}),
      };
    } finally {
      if (onAbort) ctx.signal.removeEventListener('abort', onAbort);
    }
  }

  redact(address: AddressOf<'email'>): string {
    return `mailto:${address.address}`;
  }

  secrets(): string[] {
    return this.#secrets;
  }

  async close(): Promise<void> {
    this.#transport.close();
  }
}
