/**
 * A local emulator of Aliyun's RPC OpenAPI for SMS (Dysmsapi `SendSms`) and voice (Dyvmsapi
 * `SingleCallByTts`), on 127.0.0.1:0. It recomputes the request signature exactly as the
 * "签名机制" page documents it (help.aliyun.com/document_detail/28839) — written here
 * independently of cloud/notify — and refuses with Aliyun's own error bodies: a wrong signature
 * (`SignatureDoesNotMatch`, HTTP 400, with the server's string to sign), an unknown key
 * (`InvalidAccessKeyId.NotFound`, 404), a stale timestamp (`InvalidTimeStamp.Expired`), a reused
 * nonce (`SignatureNonceUsed`). Business checks answer HTTP 200 with the Dysmsapi codes: an
 * unapproved sign or template, missing or non-string template parameters, an illegal number.
 * Tests can make it throttle a number, refuse one as illegal, or hang.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AliyunEmulatorOptions {
  /** AccessKeyId → AccessKeySecret. */
  keys: Record<string, string>;
  /** Approved SMS signs (短信签名). */
  signNames: string[];
  /** Approved SMS templates: code → text with `${name}` variables. */
  smsTemplates: Record<string, string>;
  /** Approved TTS templates: code → text. */
  ttsTemplates: Record<string, string>;
  /** The emulator's clock (the test's virtual time). */
  clock?: () => number;
}

export interface SentSms {
  phone: string;
  signName: string;
  templateCode: string;
  params: Record<string, string>;
  /** What the phone shows: 【sign】 + the template with its variables filled. */
  text: string;
  outId?: string;
}

export interface PlacedCall {
  phone: string;
  ttsCode: string;
  params: Record<string, string>;
  spoken: string;
  playTimes: number;
  showNumber?: string;
}

export interface AliyunEmulator {
  url: string;
  sms: SentSms[];
  calls: PlacedCall[];
  /** Every answer that was not OK: [action, Code]. */
  refusals: [string, string][];
  requests: number;
  /** Numbers that answer isv.BUSINESS_LIMIT_CONTROL. */
  throttled: Set<string>;
  /** Numbers that answer isv.MOBILE_NUMBER_ILLEGAL (a number the operator does not know). */
  illegal: Set<string>;
  /** When true, requests are read and never answered. */
  hang: boolean;
  close(): Promise<void>;
}

/** RFC 3986 encoding as the signature page describes it: only A-Z a-z 0-9 - _ . ~ are left. */
function percent(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function referenceStringToSign(method: string, params: Map<string, string>): string {
  const keys = [...params.keys()].filter((k) => k !== 'Signature').sort();
  const canonical = keys.map((k) => `${percent(k)}=${percent(params.get(k) ?? '')}`).join('&');
  return `${method}&${percent('/')}&${percent(canonical)}`;
}

export function referenceSignature(secret: string, stringToSign: string): string {
  return createHmac('sha1', `${secret}&`).update(stringToSign, 'utf8').digest('base64');
}

const MAINLAND = /^1[3-9]\d{9}$/;
const INTERNATIONAL = /^(?!86)[1-9]\d{6,14}$/;

export async function startAliyunEmulator(options: AliyunEmulatorOptions): Promise<AliyunEmulator> {
  const clock = options.clock ?? Date.now;
  const nonces = new Set<string>();
  const hanging: ServerResponse[] = [];
  const emu: AliyunEmulator = {
    url: '',
    sms: [],
    calls: [],
    refusals: [],
    requests: 0,
    throttled: new Set(),
    illegal: new Set(),
    hang: false,
    close: async () => {},
  };

  const answer = (res: ServerResponse, action: string, status: number, body: Record<string, unknown>) => {
    if (body.Code !== 'OK') emu.refusals.push([action, String(body.Code)]);
    res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' });
    res.end(JSON.stringify({ RequestId: randomUUID().toUpperCase(), ...body }));
  };
  const refuse = (res: ServerResponse, action: string, status: number, code: string, message: string) =>
    answer(res, action, status, { Code: code, Message: message, HostId: 'dysmsapi.aliyuncs.com' });

  /** Fills `${name}` from params: missing → the code the docs give; non-string → INVALID_JSON_PARAM. */
  const fill = (
    template: string,
    raw: string | undefined,
  ): { text: string; params: Record<string, string> } | string => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw ?? '{}');
    } catch {
      return 'isv.INVALID_JSON_PARAM';
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return 'isv.INVALID_JSON_PARAM';
    const params = parsed as Record<string, unknown>;
    if (Object.values(params).some((v) => typeof v !== 'string')) return 'isv.INVALID_JSON_PARAM';
    let missing = false;
    const text = template.replace(/\$\{(\w+)\}/g, (_, name: string) => {
      const v = params[name];
      if (typeof v !== 'string' || v === '') missing = true;
      return typeof v === 'string' ? v : '';
    });
    if (missing) return 'isv.TEMPLATE_MISSING_PARAMETERS';
    return { text, params: params as Record<string, string> };
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      emu.requests++;
      if (emu.hang) {
        hanging.push(res);
        return;
      }
      const url = new URL(req.url ?? '/', 'http://emulator');
      const source =
        req.method === 'POST'
          ? new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
          : url.searchParams;
      const p = new Map<string, string>();
      for (const [k, v] of source) {
        if (p.has(k)) return refuse(res, '?', 400, 'InvalidParameter', `duplicate parameter ${k}`);
        p.set(k, v);
      }
      const action = p.get('Action') ?? '';
      // Common parameters (公共参数).
      for (const name of [
        'AccessKeyId',
        'Action',
        'Format',
        'SignatureMethod',
        'SignatureNonce',
        'SignatureVersion',
        'Timestamp',
        'Version',
        'Signature',
      ])
        if (!p.get(name))
          return refuse(res, action, 400, 'MissingParameter', `${name} is mandatory for this action.`);
      if (p.get('SignatureMethod') !== 'HMAC-SHA1' || p.get('SignatureVersion') !== '1.0')
        return refuse(res, action, 400, 'InvalidParameter', 'SignatureMethod/SignatureVersion not supported');
      if (p.get('Version') !== '2017-05-25')
        return refuse(res, action, 400, 'InvalidVersion', 'Specified parameter Version is not valid.');
      const secret = options.keys[p.get('AccessKeyId') ?? ''];
      if (secret === undefined)
        return refuse(res, action, 404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
      const ts = p.get('Timestamp') ?? '';
      if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(ts))
        return refuse(
          res,
          action,
          400,
          'InvalidTimeStamp.Format',
          'Specified time stamp or date value is not well formatted.',
        );
      if (Math.abs(Date.parse(ts) - clock()) > 15 * 60_000)
        return refuse(
          res,
          action,
          400,
          'InvalidTimeStamp.Expired',
          'Specified time stamp or date value is expired.',
        );
      const sts = referenceStringToSign(req.method ?? 'GET', p);
      if (referenceSignature(secret, sts) !== p.get('Signature'))
        return refuse(
          res,
          action,
          400,
          'SignatureDoesNotMatch',
          `Specified signature does not match our calculation. server string to sign is:${sts}`,
        );
      const nonce = p.get('SignatureNonce') ?? '';
      if (nonces.has(nonce))
        return refuse(res, action, 400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
      nonces.add(nonce);

      if (action === 'SendSms') {
        const phones = (p.get('PhoneNumbers') ?? '').split(',');
        if (
          phones.some((n) => !MAINLAND.test(n) && !INTERNATIONAL.test(n)) ||
          phones.some((n) => emu.illegal.has(n))
        )
          return answer(res, action, 200, { Code: 'isv.MOBILE_NUMBER_ILLEGAL', Message: '非法手机号' });
        if (!options.signNames.includes(p.get('SignName') ?? ''))
          return answer(res, action, 200, {
            Code: 'isv.SMS_SIGNATURE_ILLEGAL',
            Message: '该账号下找不到对应签名',
          });
        const template = options.smsTemplates[p.get('TemplateCode') ?? ''];
        if (template === undefined)
          return answer(res, action, 200, {
            Code: 'isv.SMS_TEMPLATE_ILLEGAL',
            Message: '该账号下找不到对应模板',
          });
        const filled = fill(template, p.get('TemplateParam'));
        if (typeof filled === 'string')
          return answer(res, action, 200, {
            Code: filled,
            Message:
              filled === 'isv.INVALID_JSON_PARAM'
                ? 'JSON参数不合法，只接受字符串值'
                : '模板变量缺少对应参数值',
          });
        if (phones.some((n) => emu.throttled.has(n)))
          return answer(res, action, 200, {
            Code: 'isv.BUSINESS_LIMIT_CONTROL',
            Message: '触发分钟级流控Permits:1',
          });
        const outId = p.get('OutId');
        for (const phone of phones)
          emu.sms.push({
            phone,
            signName: p.get('SignName') ?? '',
            templateCode: p.get('TemplateCode') ?? '',
            params: filled.params,
            text: `【${p.get('SignName')}】${filled.text}`,
            ...(outId ? { outId } : {}),
          });
        return answer(res, action, 200, { Code: 'OK', Message: 'OK', BizId: `${Date.now()}^0` });
      }
      if (action === 'SingleCallByTts') {
        const phone = p.get('CalledNumber') ?? '';
        if (!MAINLAND.test(phone) || emu.illegal.has(phone))
          return answer(res, action, 200, { Code: 'isv.MOBILE_NUMBER_ILLEGAL', Message: '号码格式非法' });
        const template = options.ttsTemplates[p.get('TtsCode') ?? ''];
        if (template === undefined)
          return answer(res, action, 200, {
            Code: 'isv.TTS_TEMPLATE_ILLEGAL',
            Message: '模板不存在或未审核通过',
          });
        const playTimes = Number(p.get('PlayTimes') ?? '3');
        if (!Number.isInteger(playTimes) || playTimes < 1 || playTimes > 3)
          return answer(res, action, 200, {
            Code: 'isv.INVALID_PARAMETERS',
            Message: 'PlayTimes must be 1-3',
          });
        const filled = fill(template, p.get('TtsParam'));
        if (typeof filled === 'string')
          return answer(res, action, 200, { Code: filled, Message: 'TtsParam' });
        if (emu.throttled.has(phone))
          return answer(res, action, 200, { Code: 'isv.BUSINESS_LIMIT_CONTROL', Message: '触发流控' });
        const show = p.get('CalledShowNumber');
        emu.calls.push({
          phone,
          ttsCode: p.get('TtsCode') ?? '',
          params: filled.params,
          spoken: filled.text,
          playTimes,
          ...(show ? { showNumber: show } : {}),
        });
        return answer(res, action, 200, {
          Code: 'OK',
          Message: 'OK',
          CallId: `${Date.now()}^${emu.calls.length}`,
        });
      }
      return refuse(
        res,
        action,
        404,
        'InvalidAction.NotFound',
        'Specified api is not found, please check your url and method.',
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  emu.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  emu.close = async () => {
    for (const res of hanging.splice(0)) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return emu;
}
