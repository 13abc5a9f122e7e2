/**
 * A local emulator of Tencent Cloud SMS `SendSms` (2021-01-11) on 127.0.0.1:0. It recomputes the
 * TC3-HMAC-SHA256 signature as the "签名方法 v3" page documents it — written here independently
 * of cloud/notify — over the Host header the request really carried, and answers with Tencent's
 * own shapes: `{"Response":{"Error":{Code,Message},RequestId}}` for a refused request
 * (AuthFailure.SignatureFailure, AuthFailure.SecretIdNotFound, AuthFailure.SignatureExpire beyond
 * 5 minutes), and `SendStatusSet[]` with a Code per number. Templates are positional ({1}, {2} …):
 * a wrong number of parameters is refused. Tests can throttle a number or refuse it as incorrect.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TencentEmulator {
  url: string;
  sent: { phone: string; templateId: string; params: string[]; text: string; session?: string }[];
  refusals: string[];
  throttled: Set<string>;
  incorrect: Set<string>;
  close(): Promise<void>;
}

export async function startTencentEmulator(options: {
  keys: Record<string, string>;
  appId: string;
  signNames: string[];
  templates: Record<string, string>;
  clock: () => number;
}): Promise<TencentEmulator> {
  const emu: TencentEmulator = {
    url: '',
    sent: [],
    refusals: [],
    throttled: new Set(),
    incorrect: new Set(),
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const reply = (response: Record<string, unknown>) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ Response: { ...response, RequestId: randomUUID() } }));
      };
      const error = (code: string, message: string) => {
        emu.refusals.push(code);
        reply({ Error: { Code: code, Message: message } });
      };
      const auth =
        /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/sms\/tc3_request, SignedHeaders=content-type;host, Signature=([0-9a-f]{64})$/.exec(
          String(req.headers.authorization ?? ''),
        );
      if (!auth) return error('AuthFailure.InvalidAuthorization', 'Authorization header is malformed');
      const [, secretId = '', date = '', signature = ''] = auth;
      const secretKey = options.keys[secretId];
      if (secretKey === undefined) return error('AuthFailure.SecretIdNotFound', 'The SecretId is not found');
      const ts = Number(req.headers['x-tc-timestamp']);
      if (!Number.isInteger(ts) || Math.abs(ts * 1000 - options.clock()) > 5 * 60_000)
        return error('AuthFailure.SignatureExpire', 'Signature expired');
      if (new Date(ts * 1000).toISOString().slice(0, 10) !== date)
        return error('AuthFailure.SignatureFailure', 'credential date does not match the timestamp');
      const hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
      const canonical = [
        'POST',
        '/',
        '',
        `content-type:${String(req.headers['content-type'] ?? '').toLowerCase()}`,
        `host:${req.headers.host ?? ''}`,
        '',
        'content-type;host',
        hex(body),
      ].join('\n');
      const toSign = ['TC3-HMAC-SHA256', String(ts), `${date}/sms/tc3_request`, hex(canonical)].join('\n');
      const mac = (key: string | Buffer, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();
      const kSigning = mac(mac(mac(`TC3${secretKey}`, date), 'sms'), 'tc3_request');
      if (createHmac('sha256', kSigning).update(toSign, 'utf8').digest('hex') !== signature)
        return error('AuthFailure.SignatureFailure', 'The provided credentials could not be validated.');
      if (req.headers['x-tc-action'] !== 'SendSms' || req.headers['x-tc-version'] !== '2021-01-11')
        return error('InvalidAction', 'action or version');
      const p = JSON.parse(body) as {
        PhoneNumberSet?: string[];
        SmsSdkAppId?: string;
        SignName?: string;
        TemplateId?: string;
        TemplateParamSet?: unknown[];
        SessionContext?: string;
      };
      if (p.SmsSdkAppId !== options.appId) return error('InvalidParameterValue.SdkAppIdNotExist', 'SdkAppId');
      if (!options.signNames.includes(p.SignName ?? ''))
        return error('FailedOperation.SignatureIncorrectOrUnapproved', 'signature not approved');
      const template = options.templates[p.TemplateId ?? ''];
      if (template === undefined)
        return error('FailedOperation.TemplateIncorrectOrUnapproved', 'template not approved');
      const params = p.TemplateParamSet ?? [];
      const slots = (template.match(/\{\d+\}/g) ?? []).length;
      if (params.length !== slots || params.some((v) => typeof v !== 'string'))
        return error(
          'InvalidParameterValue.TemplateParameterFormatError',
          'template parameters do not match',
        );
      const statuses = (p.PhoneNumberSet ?? []).map((phone) => {
        const base = {
          SerialNo: randomUUID(),
          PhoneNumber: phone,
          Fee: 1,
          SessionContext: p.SessionContext ?? '',
          IsoCode: 'CN',
        };
        if (!/^\+\d{7,15}$/.test(phone) || emu.incorrect.has(phone)) {
          emu.refusals.push('InvalidParameterValue.IncorrectPhoneNumber');
          return {
            ...base,
            Fee: 0,
            Code: 'InvalidParameterValue.IncorrectPhoneNumber',
            Message: 'incorrect number',
          };
        }
        if (emu.throttled.has(phone)) {
          emu.refusals.push('LimitExceeded.PhoneNumberThirtySecondLimit');
          return {
            ...base,
            Fee: 0,
            Code: 'LimitExceeded.PhoneNumberThirtySecondLimit',
            Message: '30 s limit',
          };
        }
        const text = template.replace(/\{(\d+)\}/g, (_, n: string) => String(params[Number(n) - 1]));
        emu.sent.push({
          phone,
          templateId: p.TemplateId ?? '',
          params: params as string[],
          text: `【${p.SignName}】${text}`,
          ...(p.SessionContext ? { session: p.SessionContext } : {}),
        });
        return { ...base, Code: 'Ok', Message: 'send success' };
      });
      reply({ SendStatusSet: statuses });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  emu.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  emu.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return emu;
}
