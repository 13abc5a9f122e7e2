import { createServer, type Server, type Socket } from 'node:net';
import type { Link } from '../../../drivers/link/types.js';

/**
 * Test-only: the server end of one TCP connection as a Link, so an RtuSlave can serve a client that
 * speaks RTU framing over TCP (pymodbus's ModbusRtuFramer over a socket). Listens on 127.0.0.1:0.
 */
export class AcceptedSocketLink implements Link {
  readonly name = 'test:accepted-socket';
  private server: Server | undefined;
  private socket: Socket | undefined;
  private readonly dataListeners = new Set<(chunk: Buffer) => void>();
  private readonly closeListeners = new Set<(error?: Error) => void>();

  get isOpen(): boolean {
    return this.server !== undefined;
  }

  get port(): number {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : 0;
  }

  async open(): Promise<void> {
    if (this.server) return;
    const server = createServer((socket) => {
      this.socket?.destroy();
      this.socket = socket;
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => {
        for (const listener of this.dataListeners) listener(chunk);
      });
      socket.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.socket?.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    for (const listener of this.closeListeners) listener();
  }

  async write(data: Uint8Array): Promise<void> {
    this.socket?.write(data);
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
