import { DoorstepError, scopeContains } from '../../../protocol/index.js';
import type { UserPrincipal } from '../../auth/authenticator.js';
import { requireInScope } from '../../auth/guards.js';
import type { CloudServices } from '../context.js';
import type { Router } from '../router.js';
import {
  AlarmsQuery,
  AlarmsResponse,
  DeviceHealthQuery,
  DeviceHealthResponse,
  DevicesQuery,
  DevicesResponse,
  GatewayHealthQuery,
  GatewayHealthResponse,
  GatewaysQuery,
  GatewaysResponse,
  ReadingsQuery,
  ReadingsResponse,
  RollupsQuery,
  RollupsResponse,
  SitesQuery,
  SitesResponse,
} from '../schemas.js';
import { gatewayView } from './enroll.js';

const DEFAULT_LIMIT = 1000;
const ERRORS = [400, 401, 403, 429];

/**
 * The read API. Every query runs in a scope: the caller's own, or a narrower one it asks for
 * (`?scope=`; anything outside its own → 403). The store filters by scope; rows are filtered here
 * once more, so a store bug cannot leak another town's data (docs/architecture.md invariant 11).
 */
export function queryRoutes(router: Router, s: CloudServices): void {
  const scopeOf = (principal: UserPrincipal, asked: string | undefined): string => {
    if (asked === undefined) return principal.scope;
    requireInScope(principal, asked, 'scope');
    return asked;
  };
  /** A gateway filter must name a gateway inside the scope; unknown ones get the same 403. */
  const checkGateway = async (scope: string, gateway: string | undefined) => {
    if (gateway === undefined) return;
    const record = await s.store.getGateway(gateway);
    if (!record || !scopeContains(scope, record.site))
      throw new DoorstepError('CLOUD_ERR_SCOPE', { what: 'gateway', path: gateway, scope });
  };
  const inScope = <T extends { site: Parameters<typeof scopeContains>[1] }>(scope: string, rows: T[]) =>
    rows.filter((r) => scopeContains(scope, r.site));
  const base = { method: 'GET' as const, auth: 'token' as const, status: 200, errors: ERRORS };

  router.add(
    {
      ...base,
      url: '/v1/sites',
      summary: 'Site tree nodes in scope',
      tag: 'query',
      query: SitesQuery,
      response: SitesResponse,
    },
    async ({ principal, query }) => {
      const scope = scopeOf(principal, query.scope);
      const nodes = await s.store.listSites(scope);
      return { items: nodes.filter((n) => scopeContains(scope, n.path)) };
    },
  );

  router.add(
    {
      ...base,
      url: '/v1/gateways',
      summary: 'Gateways in scope',
      tag: 'query',
      query: GatewaysQuery,
      response: GatewaysResponse,
    },
    async ({ principal, query }) => {
      const scope = scopeOf(principal, query.scope);
      return { items: inScope(scope, await s.store.listGateways(scope)).map(gatewayView) };
    },
  );

  router.add(
    {
      ...base,
      url: '/v1/devices',
      summary: 'Devices in scope',
      tag: 'query',
      query: DevicesQuery,
      response: DevicesResponse,
    },
    async ({ principal, query }) => {
      const scope = scopeOf(principal, query.scope);
      await checkGateway(scope, query.gateway);
      const rows = inScope(scope, await s.store.listDevices(scope));
      return { items: query.gateway ? rows.filter((d) => d.gateway === query.gateway) : rows };
    },
  );

  router.add(
    {
      ...base,
      url: '/v1/alarms',
      summary: 'Alarm transitions in scope (filters: gateway, device, alarm, type, from, to, limit)',
      tag: 'query',
      query: AlarmsQuery,
      response: AlarmsResponse,
    },
    async ({ principal, query }) => {
      const { scope: asked, limit, ...filter } = query;
      const scope = scopeOf(principal, asked);
      await checkGateway(scope, filter.gateway);
      const rows = await s.store.queryAlarmTransitions(scope, { ...filter, limit: limit ?? DEFAULT_LIMIT });
      return { items: inScope(scope, rows) };
    },
  );

  router.add(
    {
      ...base,
      url: '/v1/readings',
      summary: 'Raw readings in scope (filters: gateway, device, point, from, to, limit ≤ 10 000)',
      tag: 'query',
      query: ReadingsQuery,
      response: ReadingsResponse,
    },
    async ({ principal, query }) => {
      const { scope: asked, limit, ...filter } = query;
      const scope = scopeOf(principal, asked);
      await checkGateway(scope, filter.gateway);
      const rows = await s.store.queryReadings(scope, { ...filter, limit: limit ?? DEFAULT_LIMIT });
      return { items: inScope(scope, rows) };
    },
  );

  router.add(
    {
      ...base,
      url: '/v1/rollups',
      summary: 'Per-minute or per-hour rollups of numeric readings in scope',
      tag: 'query',
      query: RollupsQuery,
      response: RollupsResponse,
    },
    async ({ principal, query }) => {
      const { scope: asked, limit, ...filter } = query;
      const scope = scopeOf(principal, asked);
      await checkGateway(scope, filter.gateway);
      const rows = await s.store.queryRollups(scope, { ...filter, limit: limit ?? DEFAULT_LIMIT });
      // Rollup rows carry no site: keep those of gateways inside the scope.
      const gateways = new Set(inScope(scope, await s.store.listGateways(scope)).map((g) => g.id));
      return { items: rows.filter((r) => gateways.has(r.gateway)) };
    },
  );

  router.add(
    {
      ...base,
      url: '/v1/health/devices',
      summary: 'Device health in scope (filter: state)',
      tag: 'health',
      query: DeviceHealthQuery,
      response: DeviceHealthResponse,
    },
    async ({ principal, query }) => {
      const scope = scopeOf(principal, query.scope);
      const rows = await s.store.listDeviceHealth(scope, query.state ? { state: query.state } : undefined);
      return { items: inScope(scope, rows) };
    },
  );

  router.add(
    {
      ...base,
      url: '/v1/health/gateways',
      summary: 'Gateway health in scope: last sync, last batch, its own report, rejected batches',
      tag: 'health',
      query: GatewayHealthQuery,
      response: GatewayHealthResponse,
    },
    async ({ principal, query }) => {
      const scope = scopeOf(principal, query.scope);
      return { items: inScope(scope, await s.store.listGatewayHealth(scope)) };
    },
  );
}
