import { gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  type DownlinkCommand,
  expandTelemetry,
  UplinkBatch,
  type UplinkBatch as UplinkBatchType,
  type UplinkResponse,
} from '../../../protocol/index.js';

type Mode = 'ok' | 'fail500' | 'hang' | 'drop' | 'auth401' | 'throttle429';

export interface ReceivedRequest {
  status: number;
  batchSeq: number | undefined;
  alarmSeqs: number[];
  eventSeqs: number[];
  telemetrySeqs: number[];
  wireBytes: number;
  /** The decompressed body, to compare resends byte for byte. */
  raw: string;
  hasHealth: boolean;
}

/**
 * A small cloud implementing the /v1/sync contract faithfully for the uplink tests: bearer auth,
 * gzip body, UplinkBatch validation (400 with ErrorBody), exactly-once storage by (gateway, seq),
 * and switches for the failure modes the uplink must survive.
 */
export class FakeCloud {
  readonly app: FastifyInstance;
  mode: Mode = 'ok';
  secret = 'sekret-1';
  /** Answer 400 for any batch holding one of these seqs (field names the row). */
  readonly badSeqs = new Set<number>();
  /** Leave `field` out of 400 answers (a cloud that does not say which row). */
  hideField = false;
  /** Name fields like the real cloud does (`telemetry.value[4]`, protocol/validation.ts formatPath). */
  bracketPaths = false;
  /** 413 when the decompressed body is larger. */
  maxBodyBytes = Number.POSITIVE_INFINITY;
  /** Added to the server's clock (serverTime). */
  clockSkewMs = 0;
  /** Store the batch, then answer 500: the ack is lost, the resend must not duplicate. */
  storeThenFail = 0;
  /** Answer 200 naming another batchSeq. */
  ackWrongBatch = false;
  /** Fail the next N requests with 500 (then back to `mode`). */
  failNext = 0;
  commands: DownlinkCommand[] = [];
  config: UplinkResponse['config'];
  appliedOffsetMs = 0;
  /** (gateway, seq) → class: the exactly-once store. */
  readonly stored = new Map<string, 'alarm' | 'event' | 'telemetry'>();
  readonly storedTelemetry: Array<{
    seq: number;
    device: string;
    point: string;
    value: unknown;
    ts: number;
  }> = [];
  duplicates = 0;
  readonly requests: ReceivedRequest[] = [];

  constructor() {
    this.app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 64 * 1024 * 1024 });
    this.app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
      try {
        const buf = body as Buffer;
        const plain = req.headers['content-encoding'] === 'gzip' ? gunzipSync(buf) : buf;
        done(null, { plain: plain.toString('utf8'), wire: buf.length });
      } catch (error) {
        done(error as Error, undefined);
      }
    });
    this.app.post('/v1/sync', async (req, reply) => {
      const { plain, wire } = req.body as { plain: string; wire: number };
      const json = JSON.parse(plain) as Partial<UplinkBatchType>;
      const record = (status: number) => {
        this.requests.push({
          status,
          batchSeq: json.batchSeq,
          alarmSeqs: (json.alarms ?? []).map((a) => a.seq),
          eventSeqs: (json.events ?? []).map((e) => e.seq),
          telemetrySeqs: json.telemetry ? expandTelemetry(json.telemetry).map((r) => r.seq) : [],
          wireBytes: wire,
          raw: plain,
          hasHealth: json.health !== undefined,
        });
      };
      const fail = (status: number, code: string, message: string, field?: string) => {
        record(status);
        const shown = field && this.bracketPaths ? field.replace(/\.(\d+)(?=\.|$)/g, '[$1]') : field;
        const named = shown && !this.hideField ? { field: shown } : {};
        return reply.code(status).send({ error: { code, message, ...named } });
      };
      if (this.mode === 'hang') {
        record(0);
        return new Promise(() => undefined); // never answers; forceCloseConnections ends it on close
      }
      if (this.mode === 'drop') {
        record(0);
        req.raw.socket.destroy();
        return reply;
      }
      if (this.failNext > 0) {
        this.failNext--;
        return fail(500, 'CLOUD_ERR_STORE_UNAVAILABLE', 'injected');
      }
      if (this.mode === 'fail500') return fail(503, 'CLOUD_ERR_STORE_UNAVAILABLE', 'down');
      if (this.mode === 'throttle429') return fail(429, 'CLOUD_ERR_RATE', 'slow down');
      if (req.headers.authorization !== `Bearer ${this.secret}` || this.mode === 'auth401')
        return fail(401, 'CLOUD_ERR_AUTH', 'bad credential');
      if (plain.length > this.maxBodyBytes) return fail(413, 'CLOUD_ERR_TOO_LARGE', `${plain.length} bytes`);
      const parsed = UplinkBatch.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return fail(400, 'CLOUD_ERR_VALIDATION', issue?.message ?? 'invalid', issue?.path.join('.'));
      }
      const batch = parsed.data;
      const rows = expandTelemetry(
        batch.telemetry ?? { series: [], seq: [], key: [], ts: [], value: [], q: '' },
      );
      const badAlarm = batch.alarms.findIndex((a) => this.badSeqs.has(a.seq));
      if (badAlarm >= 0)
        return fail(400, 'CLOUD_ERR_VALIDATION', 'bad alarm', `alarms.${badAlarm}.transition`);
      const badRow = rows.findIndex((r) => this.badSeqs.has(r.seq));
      if (badRow >= 0) return fail(400, 'CLOUD_ERR_VALIDATION', 'bad value', `telemetry.value.${badRow}`);
      const stored = { alarms: 0, events: 0, telemetry: 0 };
      const duplicates = { alarms: 0, events: 0, telemetry: 0 };
      const put = (
        seq: number,
        cls: 'alarm' | 'event' | 'telemetry',
        key: 'alarms' | 'events' | 'telemetry',
      ) => {
        const id = `${batch.gateway}:${seq}`;
        if (this.stored.has(id)) {
          duplicates[key]++;
          this.duplicates++;
          return false;
        }
        this.stored.set(id, cls);
        stored[key]++;
        return true;
      };
      for (const a of batch.alarms) put(a.seq, 'alarm', 'alarms');
      for (const e of batch.events) put(e.seq, 'event', 'events');
      for (const r of rows) if (put(r.seq, 'telemetry', 'telemetry')) this.storedTelemetry.push(r);
      if (this.storeThenFail > 0) {
        this.storeThenFail--;
        return fail(500, 'CLOUD_ERR_STORE_UNAVAILABLE', 'stored, then the answer was lost');
      }
      record(200);
      const response: UplinkResponse = {
        v: 1,
        ackedBatchSeq: this.ackWrongBatch ? batch.batchSeq + 1000 : batch.batchSeq,
        stored,
        duplicates,
        serverTime: Date.now() + this.clockSkewMs,
        appliedOffsetMs: batch.health?.clockOffsetMs ?? this.appliedOffsetMs,
        commands: this.commands.splice(0),
        ...(this.config ? { config: this.config } : {}),
      };
      return reply.code(200).send(response);
    });
  }

  async start(): Promise<string> {
    return this.app.listen({ host: '127.0.0.1', port: 0 });
  }

  async close(): Promise<void> {
    await this.app.close();
  }

  /** Stored rows per class. */
  count(cls: 'alarm' | 'event' | 'telemetry'): number {
    let n = 0;
    for (const c of this.stored.values()) if (c === cls) n++;
    return n;
  }

  storedSeqs(): Set<number> {
    return new Set([...this.stored.keys()].map((k) => Number(k.split(':')[1])));
  }

  acceptedRequests(): ReceivedRequest[] {
    return this.requests.filter((r) => r.status === 200);
  }
}
