import { Counter, Histogram, Registry } from 'prom-client';

/**
 * The service's Prometheus metrics, in a Registry of its own (never prom-client's global one), so
 * two services in one test process do not share counters.
 */
export class CloudMetrics {
  readonly registry = new Registry();
  readonly ingestBatches = new Counter({
    name: 'doorstep_cloud_ingest_batches_total',
    help: 'Sync batches by outcome: stored (something new), duplicate (all seen before), rejected',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly ingestReadings = new Counter({
    name: 'doorstep_cloud_ingest_readings_total',
    help: 'Readings stored (new rows only)',
    registers: [this.registry],
  });
  readonly ingestAlarms = new Counter({
    name: 'doorstep_cloud_ingest_alarms_total',
    help: 'Alarm transitions stored (new rows only)',
    registers: [this.registry],
  });
  readonly ingestDuplicates = new Counter({
    name: 'doorstep_cloud_ingest_duplicates_total',
    help: 'Records received again and not stored twice, by class',
    labelNames: ['class'] as const,
    registers: [this.registry],
  });
  readonly ingestRejections = new Counter({
    name: 'doorstep_cloud_ingest_rejections_total',
    help: 'Sync requests refused, by error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'doorstep_cloud_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'doorstep_cloud_store_errors_total',
    help: 'Store operations that failed (5xx answers), by route',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
}
