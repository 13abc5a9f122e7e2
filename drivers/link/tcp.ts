import { Socket } from 'node:net';
import { type Logger, silentLogger } from '../../common/log.js';
import { DoorstepError } from '../../protocol/errors.js';
import type { Link } from './types.js';

export interface TcpLinkOptions {
  host: string;
  port: number;
  /** Give up connecting after this long (default 3000 ms). */
  connectTimeoutMs?: number;
  /** TCP keepalive initial delay (default 10 000 ms) so a silently dead peer is noticed. */
  keepAliveMs?: number;
  logger?: Logger;
}

/**
 * One TCP connection (Modbus TCP device, serial-to-Ethernet converter) as a Link. noDelay is set
 * because Modbus frames are small and latency-bound. It never reconnects by itself; loss surfaces
 * as onClose(DRV_ERR_LINK_DOWN) and the owner opens a fresh link with backoff.
 */
export class TcpLink implements Link {
  readonly name: string;
  private readonly options: Required<Omit<TcpLinkOptions, 'logger'>>;
  private readonly logger: Logger;
  private socket: Socket | undefined;
  private closing = false;
  private readonly dataListeners = new Set<(chunk: Buffer) => void>();
  private readonly closeListeners = new Set<(error?: Error) => void>();

  constructor(options: TcpLinkOptions) {
    this.options = {
      host: options.host,
      port: options.port,
      connectTimeoutMs: options.connectTimeoutMs ?? 3000,
      keepAliveMs: options.keepAliveMs ?? 10_000,
    };
    this.name = `tcp:${options.host}:${options.port}`;
    this.logger = (options.logger ?? silentLogger()).child({ link: this.name });
  }

  get isOpen(): boolean {
    return this.socket !== undefined && !this.socket.destroyed && this.socket.readyState === 'open';
  }

  async open(): Promise<void> {
    if (this.isOpen) return;
    const socket = new Socket();
    await new Promise<void>((resolve, reject) => {
      const fail = (reason: string, cause?: unknown) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new DoorstepError('DRV_ERR_LINK_OPEN', { link: this.name, reason }, { cause }));
      };
      const timer = setTimeout(
        () => fail(`connect timed out after ${this.options.connectTimeoutMs} ms`),
        this.options.connectTimeoutMs,
      );
      socket.once('error', (error) => fail(error.message, error));
      socket.connect(this.options.port, this.options.host, () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve();
      });
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, this.options.keepAliveMs);
    this.socket = socket;
    this.closing = false;
    let lastError: Error | undefined;
    socket.on('data', (chunk: Buffer) => {
      for (const listener of this.dataListeners) listener(chunk);
    });
    socket.on('error', (error) => {
      lastError = error;
    });
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      const unexpected = !this.closing;
      const reason = lastError?.message ?? 'peer closed the connection';
      if (unexpected) this.logger.warn({ reason }, 'tcp link lost');
      const linkError = unexpected
        ? new DoorstepError('DRV_ERR_LINK_DOWN', { link: this.name, reason })
        : undefined;
      for (const listener of this.closeListeners) listener(linkError);
    });
    this.logger.info('tcp link open');
  }

  async close(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    this.closing = true;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }

  async write(data: Uint8Array): Promise<void> {
    const socket = this.socket;
    if (!socket || !this.isOpen)
      throw new DoorstepError('DRV_ERR_LINK_DOWN', { link: this.name, reason: 'closed' });
    await new Promise<void>((resolve, reject) => {
      socket.write(data, (error) => {
        if (error) reject(new DoorstepError('DRV_ERR_LINK_DOWN', { link: this.name, reason: error.message }));
        else resolve();
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
