/**
 * The phone page behind every action link (cloud/phone/README.md):
 *
 *   GET  /m/:case/:token            the case, with 确认 and 反馈 (audited as `viewed`)
 *   POST /m/:case/:token/ack        acknowledge → 303 back to the page
 *   POST /m/:case/:token/feedback   multipart: cause, note, photo? → 303 back to the page
 *   GET  /m/:case/:token/plan       the community plan image, for the page's marker
 *
 * The token is the only credential: no cookie is read or set here, so a form posted from another
 * site carries nothing the browser holds (no CSRF), and the routes sit outside the console's
 * session hook. A GET never changes the case (chat apps fetch links for previews). The rate limit
 * is the cloud's own (per IP without an Authorization header). Answers are HTML, errors too: a
 * page in Chinese (English with ?lang=en) saying why, with the catalogue code.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type LevelWithSilent, type Logger, levels } from 'pino';
import { DoorstepError, type SitePath } from '../../protocol/index.js';
import type { AlarmCase, FeedbackCause } from '../alarms/contract.js';
import type { LifecycleService } from '../alarms/lifecycle.js';
import type { Actor } from '../alarms/model.js';
import { FeedbackRequest, MAX_PHOTO_BYTES } from '../alarms/schemas.js';
import { statusOf, toDoorstepError } from '../http/errors.js';
import { parseOrThrow } from '../http/validate.js';
import type { Lang } from '../notify/labels.js';
import { shanghaiTime } from '../notify/labels.js';
import { siteLabel } from '../notify/message.js';
import { casePage, messagePage } from './page.js';
import { sniffImage } from './photo.js';
import type { LinkClaims, LinkSigner } from './token.js';

export interface PhonePlan {
  type: string;
  /** The image bytes, base64. */
  data: string;
  x: number;
  y: number;
}

export interface PhoneDeps {
  signer: LinkSigner;
  alarms: Pick<LifecycleService, 'get' | 'ack' | 'feedback' | 'viewed'>;
  /** The recipient's name from the people directory (the token carries only the id). */
  personName: (id: string) => string | undefined;
  /** Registry names of the sites of a district, by path. */
  siteNames: (site: SitePath) => Promise<ReadonlyMap<string, string>>;
  /** The community plan and the device's marker on it, when both exist. */
  plan?: (c: AlarmCase) => Promise<PhonePlan | undefined>;
  log?: Logger;
}

interface Params {
  case: string;
  token: string;
}

const FeedbackFields = FeedbackRequest.omit({ photo: true });

const PAGE_HEADERS = {
  'cache-control': 'no-store',
  // Nothing runs and nothing is fetched but our own plan image; forms go back to us only.
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  // The token is in the URL: never send it on as a Referer.
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

function langOf(request: FastifyRequest): Lang {
  const q = request.query as Record<string, unknown> | undefined;
  return q?.['lang'] === 'en' ? 'en' : 'zh';
}

function pathOf(caseId: string, token: string): string {
  return `/m/${encodeURIComponent(caseId)}/${token}`;
}

const TEXT: Record<string, { title: { zh: string; en: string }; text: { zh: string; en: string } }> = {
  CLOUD_ERR_LINK_INVALID: {
    title: { zh: '链接无效', en: 'Invalid link' },
    text: {
      zh: '此链接无效：可能被改动、不完整，或属于另一条报警。请打开关于此报警的最新消息，或登录值班台处理。',
      en: 'This link is not valid: it was changed, cut short or belongs to another alarm. Open the newest message about the alarm, or use the console.',
    },
  },
  CLOUD_ERR_LINK_EXPIRED: {
    title: { zh: '链接已过期', en: 'Link expired' },
    text: {
      zh: '此链接已于 {at}（北京时间）过期。此报警的后续消息会带新的链接，也可登录值班台处理。',
      en: 'This link expired at {at} (UTC+8). Later messages about the alarm carry a fresh link, or use the console.',
    },
  },
  CLOUD_ERR_LINK_CLOSED: {
    title: { zh: '报警已办结', en: 'Alarm closed' },
    text: {
      zh: '此报警已办结，链接不再可用。处置记录可在值班台查看。',
      en: 'This alarm is closed; its links no longer work. Its record is in the console.',
    },
  },
  CLOUD_ERR_NOT_FOUND: {
    title: { zh: '报警不存在', en: 'No such alarm' },
    text: { zh: '找不到此报警。', en: 'This alarm cannot be found.' },
  },
  CLOUD_ERR_CASE_STATE: {
    title: { zh: '无法操作', en: 'Not possible now' },
    text: { zh: '此报警当前不能这样处理：{reason}', en: 'This cannot be done now: {reason}' },
  },
  CLOUD_ERR_TOO_LARGE: {
    title: { zh: '照片太大', en: 'Photo too large' },
    text: {
      zh: '照片不能超过 2 MB，请换一张较小的照片重新提交。',
      en: 'A photo may be at most 2 MB; send a smaller one.',
    },
  },
  CLOUD_ERR_UNSUPPORTED_MEDIA: {
    title: { zh: '照片格式不支持', en: 'Photo type not accepted' },
    text: {
      zh: '只接受 JPEG、PNG 或 WebP 照片（按文件内容判断，不看文件名）。',
      en: 'Only JPEG, PNG or WebP photos are accepted (judged by the file content, not its name).',
    },
  },
  CLOUD_ERR_VALIDATION: {
    title: { zh: '填写有误', en: 'Please check the form' },
    text: { zh: '{field}：{reason}', en: '{field}: {reason}' },
  },
  CLOUD_ERR_RATE_LIMITED: {
    title: { zh: '请求过于频繁', en: 'Too many requests' },
    text: { zh: '请稍后再试。', en: 'Please try again in a moment.' },
  },
};

const FIELD_NAMES: Record<string, { zh: string; en: string }> = {
  cause: { zh: '原因', en: 'Cause' },
  note: { zh: '处置说明', en: 'What was done' },
};

export async function phoneRoutes(app: FastifyInstance, deps: PhoneDeps): Promise<void> {
  const { signer, alarms } = deps;

  // Multipart for the feedback form only in this scope; the photo limit is the feedback API's
  // (cloud/alarms/schemas.ts). Past the limit busboy truncates and the rest is read and dropped,
  // so the browser gets the answer page rather than a reset connection.
  await app.register(multipart, {
    throwFileSizeLimit: false,
    limits: { fileSize: MAX_PHOTO_BYTES, files: 1, fields: 4, fieldSize: 4096, parts: 6, headerPairs: 100 },
  });
  // The 确认 form posts urlencoded (no fields that matter; the token is the capability).
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 4096 },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );

  app.setErrorHandler(async (error, request, reply) => {
    const e = toDoorstepError(error, request.id, MAX_PHOTO_BYTES);
    const status = statusOf(e);
    if (status >= 500) request.log.error({ err: error }, 'phone page failed');
    // A forged or tampered link is worth a look; expired and closed ones are everyday.
    else if (e.code === 'CLOUD_ERR_LINK_INVALID')
      request.log.warn({ code: e.code, ip: request.ip }, 'action link refused');
    else request.log.info({ code: e.code }, 'phone request refused');
    const lang = langOf(request);
    const words = TEXT[e.code];
    const d = e.details as Record<string, unknown>;
    const title = words?.title[lang] ?? (lang === 'zh' ? '服务器出错' : 'Server error');
    const field = String(d['field'] ?? '');
    const text = (
      words?.text[lang] ??
      (lang === 'zh' ? '请稍后再试，或登录值班台处理。' : 'Try again later, or use the console.')
    )
      .replace('{at}', typeof d['expiredAt'] === 'string' ? d['expiredAt'] : '')
      .replace('{reason}', String(d['reason'] ?? ''))
      .replace('{field}', FIELD_NAMES[field]?.[lang] ?? field);
    const params = request.params as Partial<Params> | undefined;
    // Back to the page when the link itself still works (a form error, a refused action).
    const back =
      status === 400 || status === 409 || status === 413 || status === 415
        ? params?.case && params.token
          ? pathOf(params.case, params.token)
          : undefined
        : undefined;
    if (e.code === 'CLOUD_ERR_RATE_LIMITED') reply.header('retry-after', String(d['retryAfter'] ?? ''));
    reply.code(status).headers(PAGE_HEADERS).type('text/html; charset=utf-8');
    return messagePage(lang, title, `${text}（${e.code}）`, back);
  });

  /** The link's claims, checked against the URL and the case as it is now; throws the refusal. */
  async function open(
    request: FastifyRequest,
  ): Promise<{ claims: LinkClaims; case: AlarmCase; actor: Actor }> {
    const { case: caseId, token } = request.params as Params;
    const check = signer.verify(token);
    if (!check.ok) {
      if (check.why === 'expired' && check.claims?.caseId === caseId)
        throw new DoorstepError('CLOUD_ERR_LINK_EXPIRED', {
          id: caseId,
          expiredAt: shanghaiTime(check.claims.expiresAt),
        });
      throw new DoorstepError('CLOUD_ERR_LINK_INVALID', {
        reason: check.why === 'signature' ? 'the signature does not match' : `the token is ${check.why}`,
      });
    }
    // Bound to one case: a link for case X opens nothing else, whatever the path says.
    if (check.claims.caseId !== caseId)
      throw new DoorstepError('CLOUD_ERR_LINK_INVALID', { reason: 'the link belongs to another case' });
    const c = await alarms.get(caseId);
    if (!c) throw new DoorstepError('CLOUD_ERR_NOT_FOUND', { what: 'case', id: caseId });
    if (c.stage === 'closed') throw new DoorstepError('CLOUD_ERR_LINK_CLOSED', { id: caseId });
    const recipient = check.claims.recipient;
    const ua = request.headers['user-agent'];
    const actor: Actor = {
      kind: 'user',
      id: recipient,
      name: deps.personName(recipient) ?? recipient,
      ip: request.ip,
      ...(typeof ua === 'string' ? { userAgent: ua.slice(0, 200) } : {}),
    };
    return { claims: check.claims, case: c, actor };
  }

  /** A closed case refused inside the action's transaction reads the same as one closed before. */
  const closedToLink = (caseId: string, error: unknown): never => {
    if (
      error instanceof DoorstepError &&
      error.code === 'CLOUD_ERR_CASE_STATE' &&
      String(error.details['unmet'] ?? '') === 'closed'
    )
      throw new DoorstepError('CLOUD_ERR_LINK_CLOSED', { id: caseId });
    throw error;
  };

  // The URL is a bearer capability: fastify's per-request info lines (which carry it) stay out of
  // the log — at least warn, or the cloud's own level when that is stricter (a route's level
  // replaces the logger's, it never only narrows it).
  const base = app.log.level;
  const logLevel = (
    (levels.values[base] ?? 0) > (levels.values['warn'] ?? 40) || base === 'silent' ? base : 'warn'
  ) as LevelWithSilent;

  const params = {
    type: 'object',
    properties: { case: { type: 'string', maxLength: 96 }, token: { type: 'string', maxLength: 1024 } },
  };
  // For the OpenAPI document (cloud/http/openapi.ts): every answer is a page, refusals too.
  const html = (description: string) => ({
    description,
    content: { 'text/html': { schema: { type: 'string' } } },
  });
  const refusals = Object.fromEntries(
    [
      [400, 'The form or the link is malformed'],
      [403, 'The link is not valid (changed, cut short, or for another case)'],
      [404, 'No such case'],
      [409, 'Not possible in the case’s state'],
      [410, 'The link expired, or its case is closed'],
      [413, 'The photo is too large'],
      [415, 'Not a multipart form, or not a JPEG/PNG/WebP photo'],
      [429, 'Rate limit exceeded'],
    ].map(([status, why]) => [status, html(String(why))]),
  );
  const schema = (summary: string, ok: Record<number, unknown>, body?: string) => ({
    summary,
    tags: ['phone'],
    // The signed token in the path is the credential (cloud/phone/token.ts).
    security: [],
    params,
    ...(body ? { consumes: [body] } : {}),
    response: { ...ok, ...refusals },
  });
  const redirect = { 303: { description: 'Back to the case page (Post/Redirect/Get)' } };

  app.route({
    method: 'GET',
    url: '/m/:case/:token',
    // HEAD would run the handler and audit a view nobody saw.
    exposeHeadRoute: false,
    schema: schema('The case page behind an action link (the view is audited)', {
      200: html('The case page'),
    }),
    logLevel,
    handler: async (request, reply) => {
      const { claims, actor, case: c0 } = await open(request);
      const c = await alarms
        .viewed(c0.id, actor, { via: 'link', expiresAt: claims.expiresAt })
        .catch((error) => closedToLink(c0.id, error));
      const q = request.query as Record<string, unknown>;
      const done = q['done'] === 'ack' || q['done'] === 'feedback' ? q['done'] : undefined;
      const names = await deps.siteNames(c.site).catch(() => undefined);
      const plan = await deps.plan?.(c).catch((error) => {
        deps.log?.warn({ err: error, case: c.id }, 'site plan unavailable on the phone page');
        return undefined;
      });
      const { token } = request.params as Params;
      const path = pathOf(c.id, token);
      reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8');
      return casePage({
        lang: langOf(request),
        case: c,
        siteLabel: siteLabel(c.site, names),
        path,
        recipientName: actor.name,
        expiresAt: claims.expiresAt,
        ...(plan ? { plan: { src: `${path}/plan`, x: plan.x, y: plan.y } } : {}),
        ...(done ? { done } : {}),
      });
    },
  });

  const backTo = (request: FastifyRequest, reply: FastifyReply, done?: 'ack' | 'feedback') => {
    const { case: caseId, token } = request.params as Params;
    const query = [...(done ? [`done=${done}`] : []), ...(langOf(request) === 'en' ? ['lang=en'] : [])];
    // Post/Redirect/Get: a reload shows the page instead of sending the form again.
    return reply
      .code(303)
      .header('cache-control', 'no-store')
      .redirect(`${pathOf(caseId, token)}${query.length ? `?${query.join('&')}` : ''}`, 303);
  };

  app.route({
    method: 'POST',
    url: '/m/:case/:token/ack',
    schema: schema('Acknowledge the case of the link', redirect, 'application/x-www-form-urlencoded'),
    logLevel,
    handler: async (request, reply) => {
      const { case: c, actor } = await open(request);
      try {
        await alarms.ack(c.id, actor);
      } catch (error) {
        const again = await alarms.get(c.id);
        if (!again?.acked) closedToLink(c.id, error);
        // A second tap (or a slow network's retry) by the same person is what they wanted; when
        // someone else was quicker, the page says who acknowledged it and when.
        if (again?.ackedBy?.id !== actor.id) return backTo(request, reply);
      }
      return backTo(request, reply, 'ack');
    },
  });

  app.route({
    method: 'POST',
    url: '/m/:case/:token/feedback',
    schema: schema('Feedback on the case of the link: cause, note, photo?', redirect, 'multipart/form-data'),
    logLevel,
    handler: async (request, reply) => {
      // The link is checked before a byte of the body is read.
      const { case: c, actor } = await open(request);
      const fields: Record<string, string> = {};
      let photo: { bytes: Buffer; truncated: boolean } | undefined;
      try {
        for await (const part of request.parts()) {
          if (part.type === 'file') {
            const chunks: Buffer[] = [];
            for await (const chunk of part.file) chunks.push(chunk as Buffer);
            // A file input left empty still sends a part, with no name and no bytes.
            if (part.fieldname === 'photo' && (part.filename || chunks.length))
              photo = { bytes: Buffer.concat(chunks), truncated: part.file.truncated };
          } else if (typeof part.value === 'string') fields[part.fieldname] = part.value;
        }
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE')
          throw new DoorstepError('CLOUD_ERR_UNSUPPORTED_MEDIA', {
            what: 'Content-Type',
            value: 'the feedback form is sent as multipart/form-data',
          });
        if (/^FST_(PARTS|FILES|FIELDS)_LIMIT$/.test(code))
          throw new DoorstepError('CLOUD_ERR_VALIDATION', {
            field: '(form)',
            reason: 'too many fields or files',
          });
        throw error;
      }
      const input = parseOrThrow(FeedbackFields, { cause: fields['cause'], note: fields['note'] });
      let dataUrl: string | undefined;
      if (photo) {
        if (photo.truncated)
          throw new DoorstepError('CLOUD_ERR_TOO_LARGE', { limit: MAX_PHOTO_BYTES, what: 'photo' });
        // By its first bytes, never by the name or the Content-Type the phone sent.
        const type = sniffImage(photo.bytes);
        if (!type)
          throw new DoorstepError('CLOUD_ERR_UNSUPPORTED_MEDIA', {
            what: 'photo type',
            value: 'not a JPEG, PNG or WebP image',
          });
        dataUrl = `data:${type};base64,${photo.bytes.toString('base64')}`;
      }
      await alarms
        .feedback(c.id, actor, {
          cause: input.cause as FeedbackCause,
          note: input.note,
          ...(dataUrl ? { photo: dataUrl } : {}),
        })
        .catch((error) => closedToLink(c.id, error));
      return backTo(request, reply, 'feedback');
    },
  });

  app.route({
    method: 'GET',
    url: '/m/:case/:token/plan',
    exposeHeadRoute: false,
    schema: schema('The community plan image for the page’s marker', {
      200: {
        description: 'The image',
        content: {
          'image/svg+xml': { schema: { type: 'string' } },
          'image/png': { schema: { type: 'string' } },
        },
      },
    }),
    logLevel,
    handler: async (request, reply) => {
      const { case: c } = await open(request);
      const plan = await deps.plan?.(c);
      if (!plan) throw new DoorstepError('CLOUD_ERR_NOT_FOUND', { what: 'site plan of', id: c.id });
      // Shown through <img> only; the sandbox CSP keeps an SVG inert even when opened directly.
      reply
        .type(plan.type)
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox")
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'private, no-store');
      return Buffer.from(plan.data, 'base64');
    },
  });
}
