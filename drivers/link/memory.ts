import { DoorstepError } from '../../protocol/errors.js';
import type { Link } from './types.js';

type DataListener = (chunk: Buffer) => void;
type CloseListener = (error?: Error) => void;

/**
 * One end of an in-memory link pair. Bytes written on one end arrive at the other on a later
 * macrotask (never synchronously), as they would from a real port.
 */
export class MemoryLink implements Link {
  readonly name: string;
  private open_ = false;
  private peer: MemoryLink | undefined;
  private readonly dataListeners = new Set<DataListener>();
  private readonly closeListeners = new Set<CloseListener>();

  constructor(name: string) {
    this.name = name;
  }

  static pair(name = 'memory'): [MemoryLink, MemoryLink] {
    const a = new MemoryLink(`${name}:a`);
    const b = new MemoryLink(`${name}:b`);
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  get isOpen(): boolean {
    return this.open_;
  }

  async open(): Promise<void> {
    this.open_ = true;
  }

  async close(): Promise<void> {
    if (!this.open_) return;
    this.open_ = false;
    for (const listener of this.closeListeners) listener();
  }

  /** Simulates an unplugged adapter or a dropped socket: the link closes with an error. */
  fail(reason = 'link lost'): void {
    if (!this.open_) return;
    this.open_ = false;
    const error = new DoorstepError('DRV_ERR_LINK_DOWN', { link: this.name, reason });
    for (const listener of this.closeListeners) listener(error);
  }

  async write(data: Uint8Array): Promise<void> {
    if (!this.open_) throw new DoorstepError('DRV_ERR_LINK_DOWN', { link: this.name, reason: 'closed' });
    const copy = Buffer.from(data);
    const peer = this.peer;
    setImmediate(() => peer?.deliver(copy));
  }

  private deliver(chunk: Buffer): void {
    if (!this.open_) return; // like a closed port: bytes on the wire are lost
    for (const listener of this.dataListeners) listener(chunk);
  }

  onData(listener: DataListener): () => void {
    this.dataListeners.add(listener);
    return () => this.dataListeners.delete(listener);
  }

  onClose(listener: CloseListener): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }
}
