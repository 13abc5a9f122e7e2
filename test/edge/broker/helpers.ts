import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { hashPassword, type ScryptParams } from '../../../common/password.js';
import { GatewayPublisher } from '../../../edge/broker/gateway-publisher.js';
import { LocalBroker, type LocalBrokerEvents } from '../../../edge/broker/local-broker.js';

export const GATEWAY = 'gw1';
/** Cheap scrypt parameters so tests hash quickly; the default cost is covered in password.test.ts. */
export const FAST_SCRYPT: ScryptParams = { N: 1024, r: 8, p: 1 };

export const PASSWORDS = {
  staff: 'staff-secret',
  sensor: 'sensor-secret',
  watcher: 'watcher-secret',
} as const;

/** staff: commands and everything under the gateway; sensor-a: its own sensors/ subtree; watcher: read-only. */
export async function standardUsers() {
  return [
    {
      username: 'staff',
      passwordHash: await hashPassword(PASSWORDS.staff, FAST_SCRYPT),
      acl: { publish: ['doorstep/%g/commands/+'], subscribe: ['doorstep/%g/#'] },
    },
    {
      username: 'sensor-a',
      passwordHash: await hashPassword(PASSWORDS.sensor, FAST_SCRYPT),
      acl: { publish: ['sensors/%u/#'], subscribe: ['sensors/%u/config'] },
    },
    {
      username: 'watcher',
      passwordHash: await hashPassword(PASSWORDS.watcher, FAST_SCRYPT),
      acl: { publish: [], subscribe: ['doorstep/%g/alarms/#', 'doorstep/%g/devices/+/status'] },
    },
  ];
}

/** Everything a test starts, stopped in reverse order by dispose() — call it from after(). */
export class Resources {
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  add(cleanup: () => Promise<void> | void): void {
    this.cleanups.push(cleanup);
  }
  async dispose(): Promise<void> {
    for (const cleanup of this.cleanups.reverse().splice(0)) {
      try {
        await cleanup();
      } catch {
        // keep cleaning up the rest
      }
    }
  }
}

export async function startBroker(
  resources: Resources,
  config: Record<string, unknown> = {},
): Promise<{ broker: LocalBroker; publisher: GatewayPublisher; port: number }> {
  const broker = new LocalBroker({
    gatewayId: GATEWAY,
    config: { host: '127.0.0.1', port: 0, users: await standardUsers(), ...config },
  });
  resources.add(() => broker.stop());
  await broker.start();
  return { broker, publisher: new GatewayPublisher(broker), port: broker.address().port };
}

/** Connects with mqtt.js (MQTT 3.1.1, no automatic reconnect); rejects with the CONNACK refusal. */
export async function connectClient(
  resources: Resources,
  port: number,
  options: IClientOptions = {},
): Promise<MqttClient> {
  const client = mqtt.connect({
    host: '127.0.0.1',
    port,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    // Client ids are bound to their user (edge/broker/README.md "Client ids"): `<username>-…`.
    ...(options.username
      ? { clientId: `${options.username}-${Math.random().toString(16).slice(2, 10)}` }
      : {}),
    ...options,
  });
  resources.add(() => closeClient(client));
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
  return client;
}

export function closeClient(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.end(true, {}, () => resolve()));
}

/** Subscribes and returns the granted QoS per filter (0x80 = refused, MQTT 3.1.1 §3.9.3). */
export function subscribeGranted(client: MqttClient, filters: string[], qos: 0 | 1 = 1): Promise<number[]> {
  return new Promise((resolve, reject) => {
    // The SUBACK packet (third argument) carries the codes even when mqtt.js reports a refusal as an error.
    client.subscribe(filters, { qos }, (error, _requested, suback) => {
      if (suback && 'granted' in suback) return resolve(suback.granted.map(Number));
      reject(error ?? new Error('no SUBACK'));
    });
  });
}

/** Collects messages on a client; `next(n)` resolves once n have arrived. */
export function collect(client: MqttClient) {
  const messages: { topic: string; payload: string; retain: boolean; qos: number }[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString('utf8'), retain: packet.retain, qos: packet.qos });
    for (const waiter of waiters.filter((w) => messages.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  return {
    messages,
    next(count: number): Promise<void> {
      if (messages.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
  };
}

/** Resolves with the first event of the broker that satisfies `match`. */
export function brokerEvent<K extends keyof LocalBrokerEvents>(
  broker: LocalBroker,
  event: K,
  match: (...args: LocalBrokerEvents[K]) => boolean = () => true,
): Promise<LocalBrokerEvents[K]> {
  return new Promise((resolve) => {
    const listener = (...args: LocalBrokerEvents[K]) => {
      if (!match(...args)) return;
      broker.off(event, listener as never);
      resolve(args);
    };
    broker.on(event, listener as never);
  });
}

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a client (mosquitto_pub / mosquitto_sub) as an async child — never execFileSync while the
 * broker runs in this process. `done` resolves on exit; the child is killed in cleanup.
 */
export function runChild(
  resources: Resources,
  command: string,
  args: string[],
): { child: ChildProcess; done: Promise<ChildResult> } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  resources.add(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await done;
    }
  });
  return { child, done };
}

/** events.once for mqtt.js clients (their typings are not a Node EventEmitter). */
export function clientEvent(client: MqttClient, event: 'connect' | 'close' | 'error'): Promise<unknown[]> {
  return new Promise((resolve) => client.once(event, (...args: unknown[]) => resolve(args)));
}
