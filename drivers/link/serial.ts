import { realpath } from 'node:fs/promises';
import { SerialPort } from 'serialport';
import { type Logger, silentLogger } from '../../common/log.js';
import { DoorstepError } from '../../protocol/errors.js';
import type { Link, SerialSettings } from './types.js';

export interface SerialLinkOptions extends Partial<SerialSettings> {
  /** Prefer a stable `/dev/serial/by-id/…` path: ttyUSB numbers change on replug (docs/stack.md). */
  path: string;
  logger?: Logger;
}

/**
 * A serial port (RS-485 adapter, radio receiver, pty) as a Link. Opens by path only:
 * `SerialPort.list()` shells out to udevadm, fails without udev and never lists ptys.
 * It never reconnects by itself; an unplug surfaces as onClose(DRV_ERR_LINK_DOWN) and the owner
 * (the bus scheduler) decides when to open a fresh link.
 */
export class SerialLink implements Link {
  readonly name: string;
  readonly settings: SerialSettings;
  private readonly path: string;
  private readonly logger: Logger;
  private port: SerialPort | undefined;
  private closing = false;
  private readonly dataListeners = new Set<(chunk: Buffer) => void>();
  private readonly closeListeners = new Set<(error?: Error) => void>();

  constructor(options: SerialLinkOptions) {
    this.path = options.path;
    // Modbus over serial line v1.02 §2.5.1: 8 data bits, even parity, 1 stop bit is the default.
    this.settings = {
      baudRate: options.baudRate ?? 9600,
      parity: options.parity ?? 'even',
      dataBits: options.dataBits ?? 8,
      stopBits: options.stopBits ?? 1,
    };
    this.name = `serial:${options.path}`;
    this.logger = (options.logger ?? silentLogger()).child({ link: this.name });
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  async open(): Promise<void> {
    if (this.isOpen) return;
    let device: string;
    try {
      // Log what a by-id symlink points at today, so a replug to another ttyUSB is visible.
      device = await realpath(this.path);
    } catch (error) {
      throw new DoorstepError(
        'DRV_ERR_LINK_OPEN',
        { link: this.name, reason: (error as Error).message },
        { cause: error },
      );
    }
    const port = new SerialPort({
      path: this.path,
      baudRate: this.settings.baudRate,
      parity: this.settings.parity,
      dataBits: this.settings.dataBits,
      stopBits: this.settings.stopBits,
      autoOpen: false,
    });
    await new Promise<void>((resolve, reject) => {
      port.open((error) => {
        if (error) {
          reject(
            new DoorstepError(
              'DRV_ERR_LINK_OPEN',
              { link: this.name, reason: error.message },
              { cause: error },
            ),
          );
        } else resolve();
      });
    });
    this.port = port;
    this.closing = false;
    port.on('data', (chunk: Buffer) => {
      for (const listener of this.dataListeners) listener(chunk);
    });
    port.on('error', (error: Error) => this.logger.warn({ err: error }, 'serial port error'));
    port.on('close', (error?: Error | null) => {
      if (this.port === port) this.port = undefined;
      const unexpected = !this.closing;
      const reason = error?.message ?? 'port closed';
      const linkError = unexpected
        ? new DoorstepError('DRV_ERR_LINK_DOWN', { link: this.name, reason })
        : undefined;
      if (unexpected) this.logger.warn({ reason }, 'serial port lost');
      for (const listener of this.closeListeners) listener(linkError);
    });
    this.logger.info({ device, ...this.settings }, 'serial port open');
  }

  async close(): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return;
    this.closing = true;
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  async write(data: Uint8Array): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) throw new DoorstepError('DRV_ERR_LINK_DOWN', { link: this.name, reason: 'closed' });
    await new Promise<void>((resolve, reject) => {
      port.write(Buffer.from(data), (error) => {
        if (error) {
          reject(
            new DoorstepError(
              'DRV_ERR_LINK_DOWN',
              { link: this.name, reason: error.message },
              { cause: error },
            ),
          );
          return;
        }
        // Resolve once the bytes left the OS buffer, so reply timeouts measure the slave, not the queue.
        port.drain((drainError) => {
          if (drainError) {
            reject(new DoorstepError('DRV_ERR_LINK_DOWN', { link: this.name, reason: drainError.message }));
          } else resolve();
        });
      });
    });
  }

  onData(listener: (chunk: Buffer) => void): () => void {
    this.dataListeners.add(listener);
    return () => this.dataListeners.delete(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }
}
