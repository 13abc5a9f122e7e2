import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { DoorstepError, scopeContains } from '../../../protocol/index.js';
import type { AlarmCase } from '../../alarms/contract.js';
import type { LifecycleService } from '../../alarms/lifecycle.js';
import type { Actor } from '../../alarms/model.js';
import {
  ActionResponse,
  CaseId,
  CaseResponse,
  CasesQuery,
  CasesResponse,
  caseView,
  EmptyRequest,
  FeedbackRequest,
  OutOfServiceRequest,
  PhotoResponse,
  ShelveRequest,
} from '../../alarms/schemas.js';
import type { UserPrincipal } from '../../auth/authenticator.js';
import { requireInScope, requireRole } from '../../auth/guards.js';
import type { CloudServices } from '../context.js';
import type { Router } from '../router.js';

const READ_ERRORS = [400, 401, 403, 404, 429];
const ACT_ERRORS = [400, 401, 403, 404, 409, 429];

/**
 * The alarm case API (预警 → 提醒 → 督办 → 反馈 → 办结). Bearer API tokens; viewers read, duty and
 * above act; every case is checked against the caller's scope (docs/architecture.md invariant 11): outside it →
 * 403, unknown → 404. Refusals by state are 409 CLOUD_ERR_CASE_STATE naming the reason.
 */
export function alarmRoutes(router: Router, s: CloudServices & { alarms: LifecycleService }): void {
  const alarms = s.alarms;

  const load = async (principal: UserPrincipal, id: string): Promise<AlarmCase> => {
    const c = await alarms.get(id);
    // Out of scope answers exactly like unknown: a 403 would confirm that the id exists elsewhere.
    if (!c || !scopeContains(principal.scope, c.site))
      throw new DoorstepError('CLOUD_ERR_NOT_FOUND', { what: 'case', id });
    return c;
  };

  const actor = (principal: UserPrincipal, request: FastifyRequest): Actor => {
    const ua = request.headers['user-agent'];
    return {
      kind: 'user',
      id: principal.userId,
      name: principal.username,
      ip: request.ip,
      ...(typeof ua === 'string' ? { userAgent: ua.slice(0, 256) } : {}),
    };
  };

  router.add(
    {
      method: 'GET',
      url: '/v1/cases',
      summary:
        'Alarm cases in scope, newest first (filters: scope, stage, open, from, to on raisedAt, limit)',
      tag: 'cases',
      auth: 'token',
      query: CasesQuery,
      status: 200,
      response: CasesResponse,
      errors: READ_ERRORS,
    },
    async ({ principal, query }) => {
      const scope = query.scope ?? principal.scope;
      if (query.scope !== undefined) requireInScope(principal, scope, 'scope');
      const items = await alarms.list(scope, {
        ...(query.stage ? { stage: query.stage as AlarmCase['stage'] } : {}),
        ...(query.open ? { open: query.open === 'true' } : {}),
        ...(query.from !== undefined ? { from: query.from } : {}),
        ...(query.to !== undefined ? { to: query.to } : {}),
        ...(query.limit !== undefined ? { limit: query.limit } : {}),
      });
      // Filtered by the store and once more here, so a store bug cannot leak another town's cases.
      return { items: items.filter((c) => scopeContains(scope, c.site)).map(caseView) };
    },
  );

  router.add(
    {
      method: 'GET',
      url: '/v1/cases/:id',
      summary: 'One case with its audit trail (who, when, from where, what changed)',
      tag: 'cases',
      auth: 'token',
      params: CaseId,
      status: 200,
      response: CaseResponse,
      errors: READ_ERRORS,
    },
    async ({ principal, params }) => {
      const c = await load(principal, params.id);
      return { case: caseView(c), audit: await alarms.audit(c.id) };
    },
  );

  router.add(
    {
      method: 'GET',
      url: '/v1/cases/:id/photo',
      summary: 'The feedback photo of a case, as a data URL',
      tag: 'cases',
      auth: 'token',
      params: CaseId,
      status: 200,
      response: PhotoResponse,
      errors: READ_ERRORS,
    },
    async ({ principal, params }) => {
      const c = await load(principal, params.id);
      const photo = await alarms.photo(c.id);
      if (!photo) throw new DoorstepError('CLOUD_ERR_NOT_FOUND', { what: 'photo of case', id: c.id });
      return { photo };
    },
  );

  /** One action route: duty and above, the case in scope, then the lifecycle decides (409 on state). */
  const action = <B extends z.ZodType>(
    name: string,
    summary: string,
    body: B,
    run: (id: string, who: Actor, body: z.output<B>) => Promise<AlarmCase>,
  ) =>
    router.add(
      {
        method: 'POST',
        url: `/v1/cases/:id/${name}`,
        summary,
        tag: 'cases',
        auth: 'token',
        params: CaseId,
        body,
        status: 200,
        response: ActionResponse,
        errors: ACT_ERRORS,
      },
      async ({ principal, params, body: input, request }) => {
        requireRole(principal, 'duty', `${name} a case`);
        const c = await load(principal, params.id);
        return { case: caseView(await run(c.id, actor(principal, request), input as z.output<B>)) };
      },
    );

  action('ack', 'Acknowledge (the gateway is told to silence its local siren)', EmptyRequest, (id, who) =>
    alarms.ack(id, who),
  );
  action(
    'feedback',
    'Record the cause and what was done (反馈; OPC UA Part 9 Confirm): cause, note ≤ 500, photo?',
    FeedbackRequest,
    (id, who, b) =>
      alarms.feedback(id, who, { cause: b.cause, note: b.note, ...(b.photo ? { photo: b.photo } : {}) }),
  );
  action(
    'close',
    'Close (办结): only when cleared or reset, acknowledged, with feedback — 409 names what is missing',
    EmptyRequest,
    (id, who) => alarms.close(id, who),
  );
  action(
    'shelve',
    'Shelve (ISA-18.2, operator only): reason, and hours ≤ 24 or until',
    ShelveRequest,
    (id, who, b) =>
      alarms.shelve(id, who, {
        reason: b.reason,
        until: b.until ?? s.clock() + Math.round((b.hours ?? 0) * 3600_000),
      }),
  );
  action('unshelve', 'Unshelve', EmptyRequest, (id, who) => alarms.unshelve(id, who));
  action(
    'out-of-service',
    'Take out of service for maintenance: reason, until?',
    OutOfServiceRequest,
    (id, who, b) =>
      alarms.outOfService(id, who, {
        reason: b.reason,
        ...(b.until !== undefined ? { until: b.until } : {}),
      }),
  );
  action(
    'return-to-service',
    'Return to service (ISA-18.2): maintenance over, a still-active alarm is announced again',
    EmptyRequest,
    (id, who) => alarms.returnToService(id, who),
  );
  action(
    'reset',
    'Ask the gateway to reset a latched alarm (the case follows its reset transition)',
    EmptyRequest,
    (id, who) => alarms.reset(id, who),
  );
  action('silence', 'Ask the gateway to silence the local sounder', EmptyRequest, (id, who) =>
    alarms.silence(id, who),
  );
}
