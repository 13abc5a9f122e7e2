/**
 * The device registry's API (cloud/registry/README.md): list and search, one device with its
 * history under every gateway it was bound to, and exports (CSV, XLSX). Every route runs in the
 * caller's scope or a narrower one it asks for (anything outside → 403 CLOUD_ERR_SCOPE); rows are
 * checked against the scope once more here, so a store bug cannot leak another town's devices
 * (docs/architecture.md invariant 11).
 */
import { z } from 'zod';
import { DoorstepError, GatewayId, ScopePath, SensorKind, scopeContains } from '../../protocol/index.js';
import type { UserPrincipal } from '../auth/authenticator.js';
import { requireInScope } from '../auth/guards.js';
import type { CloudServices } from '../http/context.js';
import type { Router } from '../http/router.js';
import type { RegistryDevice, RegistryFilter } from '../store/registry.js';
import { registryCsv, registryXlsx } from './export.js';

const Ms = z.number().int().nonnegative();
const Site = z.object({ district: z.string(), town: z.string(), community: z.string() });

export const RegistryQuery = z
  .object({
    scope: ScopePath.optional(),
    /** Words in the code, device id, location, building, unit or floor. */
    q: z.string().min(1).max(64).optional(),
    kind: SensorKind.optional(),
    /** A site path inside the scope: district/town/community or a prefix. */
    site: ScopePath.optional(),
    status: z.enum(['active', 'removed', 'all']).optional(),
    gateway: GatewayId.optional(),
    limit: z.coerce.number().int().min(1).max(50_000).optional(),
    /** Export headings: zh (default) or en. */
    lang: z.enum(['zh', 'en']).optional(),
  })
  .strict();

export const RegistryDeviceView = z
  .object({
    code: z.string(),
    assigned: z.enum(['installer', 'cloud']),
    gateway: z.string(),
    device: z.string(),
    site: Site,
    kind: z.string(),
    use: z.string().optional(),
    profile: z.string(),
    profileVersion: z.number().int(),
    label: z.string(),
    building: z.string().optional(),
    unit: z.string().optional(),
    floor: z.string().optional(),
    planX: z.number().optional(),
    planY: z.number().optional(),
    installedOn: z.string().optional(),
    generation: z.number().int(),
    firstSeen: Ms,
    updatedAt: Ms,
    removedAt: Ms.optional(),
    status: z.enum(['active', 'removed']),
  })
  .strict();

export const RegistryListResponse = z.object({ items: z.array(RegistryDeviceView) }).strict();

export const RegistryDeviceParams = z.object({ code: z.string().min(3).max(160) }).strict();

export const RegistryDeviceResponse = z
  .object({
    device: RegistryDeviceView,
    bindings: z.array(
      z
        .object({
          code: z.string(),
          gateway: z.string(),
          device: z.string(),
          site: Site,
          since: Ms,
          until: Ms.optional(),
        })
        .strict(),
    ),
    /** Alarm cases of the device under every binding, newest first (at most 100). */
    cases: z.array(
      z
        .object({
          id: z.string(),
          gateway: z.string(),
          device: z.string(),
          type: z.string(),
          severity: z.string(),
          stage: z.string(),
          raisedAt: Ms,
          location: z.string().optional(),
        })
        .strict(),
    ),
  })
  .strict();

const ERRORS = [400, 401, 403, 429];
const MAX_CASES = 100;

export function registryRoutes(router: Router, s: CloudServices): void {
  const base = {
    method: 'GET' as const,
    auth: 'token' as const,
    status: 200,
    errors: ERRORS,
    tag: 'registry',
  };
  const filterOf = async (
    principal: UserPrincipal,
    query: z.output<typeof RegistryQuery>,
  ): Promise<{ scope: string; filter: RegistryFilter }> => {
    const scope = query.scope ?? principal.scope;
    requireInScope(principal, scope, 'scope');
    if (query.site !== undefined && !scopeContains(scope, query.site))
      throw new DoorstepError('CLOUD_ERR_SCOPE', { what: 'site', path: query.site, scope });
    if (query.gateway !== undefined) {
      const gw = await s.store.getGateway(query.gateway);
      if (!gw || !scopeContains(scope, gw.site))
        throw new DoorstepError('CLOUD_ERR_SCOPE', { what: 'gateway', path: query.gateway, scope });
    }
    const filter: RegistryFilter = {
      ...(query.q !== undefined ? { text: query.q } : {}),
      ...(query.kind !== undefined ? { kind: query.kind } : {}),
      ...(query.site !== undefined ? { site: query.site } : {}),
      ...(query.status !== undefined ? { status: query.status } : {}),
      ...(query.gateway !== undefined ? { gateway: query.gateway } : {}),
      ...(query.limit !== undefined ? { limit: query.limit } : {}),
    };
    return { scope, filter };
  };
  const list = async (principal: UserPrincipal, query: z.output<typeof RegistryQuery>) => {
    const { scope, filter } = await filterOf(principal, query);
    const rows = await s.store.listRegistry(scope, filter);
    return rows.filter((d: RegistryDevice) => scopeContains(scope, d.site));
  };

  router.add(
    {
      ...base,
      url: '/v1/registry/devices',
      summary: 'Devices of the registry in scope (search: q, kind, site, status, gateway)',
      query: RegistryQuery,
      response: RegistryListResponse,
    },
    async ({ principal, query }) => ({ items: await list(principal, query) }),
  );

  router.add(
    {
      ...base,
      url: '/v1/registry/devices.csv',
      summary: 'The registry search as CSV (UTF-8 with BOM; headings in lang, Chinese by default)',
      query: RegistryQuery,
      raw: 'text/csv; charset=utf-8',
    },
    async ({ principal, query, reply }) => {
      const rows = await list(principal, query);
      reply.header('content-disposition', 'attachment; filename="devices.csv"');
      return registryCsv(rows, query.lang ?? 'zh');
    },
  );

  router.add(
    {
      ...base,
      url: '/v1/registry/devices.xlsx',
      summary: 'The registry search as an Excel workbook (XLSX)',
      query: RegistryQuery,
      raw: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    },
    async ({ principal, query, reply }) => {
      const rows = await list(principal, query);
      reply.header('content-disposition', 'attachment; filename="devices.xlsx"');
      return registryXlsx(rows, query.lang ?? 'zh');
    },
  );

  router.add(
    {
      ...base,
      url: '/v1/registry/devices/:code',
      summary: 'One device by code: its record, every gateway it was bound to, and its cases under each',
      params: RegistryDeviceParams,
      query: z.object({ scope: ScopePath.optional() }).strict(),
      response: RegistryDeviceResponse,
      errors: [...ERRORS, 404],
    },
    async ({ principal, params, query }) => {
      const scope = query.scope ?? principal.scope;
      requireInScope(principal, scope, 'scope');
      const found = await s.store.getRegistryDevice(scope, params.code);
      if (!found || !scopeContains(scope, found.device.site))
        throw new DoorstepError('CLOUD_ERR_NOT_FOUND', { what: 'device', id: params.code });
      // Its history follows it: the cases of every (gateway, device id) it had, each in the
      // community and time it was bound there — seen by whoever may see the device now.
      const cases: z.output<typeof RegistryDeviceResponse>['cases'] = [];
      for (const [i, b] of found.bindings.entries()) {
        const community = `${b.site.district}/${b.site.town}/${b.site.community}`;
        const rows = await s.alarms.list(community, {
          // The first binding also owns what came before the registry heard of the device.
          ...(i > 0 ? { from: b.since } : {}),
          ...(b.until !== undefined ? { to: b.until + 1 } : {}),
          limit: 1000,
        });
        for (const c of rows)
          if (c.gateway === b.gateway && c.device === b.device && !cases.some((x) => x.id === c.id))
            cases.push({
              id: c.id,
              gateway: c.gateway,
              device: c.device,
              type: c.type,
              severity: c.severity,
              stage: c.stage,
              raisedAt: c.raisedAt,
              ...(c.location !== undefined ? { location: c.location } : {}),
            });
      }
      cases.sort((a, b) => b.raisedAt - a.raisedAt);
      return { ...found, cases: cases.slice(0, MAX_CASES) };
    },
  );
}
