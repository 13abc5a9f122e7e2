/**
 * `GET /v1/sites/:path/on-duty?at=` — who is on duty at a site now (or at `at`), and who is next,
 * per schedule and layer: the community station's own schedules and those of its town and
 * district, each shown only when it lies inside the caller's scope (docs/architecture.md invariant 11). `:path`
 * is a scope path with its slashes URL-encoded (`pudong%2Fzhangjiang%2Flane-100`).
 */
import { z } from 'zod';
import { formatLocal, parseLocal } from '../../common/time.js';
import { ScopePath, scopeContains } from '../../protocol/index.js';
import { requireInScope } from '../auth/guards.js';
import type { Router } from '../http/router.js';
import type { DutyResolver, Shift } from './roster.js';

/** Epoch ms, or ISO 8601; a date-time without a zone is Asia/Shanghai local time. */
export function parseAt(text: string): number {
  if (/^\d{1,15}$/.test(text)) return Number(text);
  if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2})?$/.test(text)) return parseLocal(text);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text))
    return Date.parse(text);
  return Number.NaN;
}

export const OnDutyParams = z.object({ path: ScopePath }).strict();
export const OnDutyQuery = z
  .object({
    at: z
      .string()
      .refine((s) => Number.isFinite(parseAt(s)), 'must be epoch ms or an ISO 8601 date-time')
      .optional(),
  })
  .strict();

const ShiftView = z
  .object({
    person: z.object({ id: z.string(), name: z.string() }),
    from: z.number(),
    to: z.number(),
    fromLocal: z.string(),
    toLocal: z.string(),
    override: z.boolean(),
  })
  .nullable();

export const OnDutyResponse = z.object({
  site: z.string(),
  at: z.number(),
  atLocal: z.string(),
  timeZone: z.literal('Asia/Shanghai'),
  items: z.array(
    z.object({
      schedule: z.string(),
      site: z.string(),
      role: z.string(),
      layer: z.string(),
      mode: z.enum(['on_site', 'on_call']),
      current: ShiftView,
      next: ShiftView,
    }),
  ),
});

const view = (s: Shift | null) => s && { ...s, fromLocal: formatLocal(s.from), toLocal: formatLocal(s.to) };

export function onDutyRoutes(router: Router, duty: DutyResolver, clock: () => number): void {
  router.add(
    {
      method: 'GET',
      url: '/v1/sites/:path/on-duty',
      summary: 'Who is on duty at a site now (or at ?at=) and next, per schedule layer, in scope',
      tag: 'escalation',
      auth: 'token',
      params: OnDutyParams,
      query: OnDutyQuery,
      status: 200,
      response: OnDutyResponse,
      errors: [400, 401, 403, 429],
    },
    async ({ principal, params, query }) => {
      requireInScope(principal, params.path, 'site');
      const at = query.at === undefined ? clock() : parseAt(query.at);
      const items = duty
        .onDuty(params.path, at)
        .filter((d) => scopeContains(principal.scope, d.site))
        .map((d) => ({ ...d, current: view(d.current), next: view(d.next) }));
      return { site: params.path, at, atLocal: formatLocal(at), timeZone: 'Asia/Shanghai' as const, items };
    },
  );
}
