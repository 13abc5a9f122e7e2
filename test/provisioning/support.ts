import { spawn } from 'node:child_process';
import { SerialLink } from '../../drivers/link/serial.js';
import type { Link, SerialSettings } from '../../drivers/link/types.js';

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * Ptys ignore baud rate and parity, so on a socat pair every device would answer at every setting.
 * This models the wire: a master whose line settings differ from the bus's is not understood by
 * the devices (their UARTs see framing and parity errors and drop the frame), so its requests are
 * never delivered — exactly the silence a scan meets at the wrong settings on a real bus.
 */
export class LineModelLink implements Link {
  readonly name: string;
  private readonly inner: SerialLink;
  constructor(
    path: string,
    private readonly settings: SerialSettings,
    private readonly bus: SerialSettings,
  ) {
    this.inner = new SerialLink({ path, ...settings });
    this.name = this.inner.name;
  }
  get isOpen(): boolean {
    return this.inner.isOpen;
  }
  open(): Promise<void> {
    return this.inner.open();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  async write(data: Uint8Array): Promise<void> {
    const s = this.settings;
    const b = this.bus;
    if (
      s.baudRate === b.baudRate &&
      s.parity === b.parity &&
      s.stopBits === b.stopBits &&
      s.dataBits === b.dataBits
    )
      await this.inner.write(data);
  }
  onData(listener: (chunk: Buffer) => void): () => void {
    return this.inner.onData(listener);
  }
  onClose(listener: (error?: Error) => void): () => void {
    return this.inner.onClose(listener);
  }
}

/** A createLink for scanPort that applies the line model of each port's bus. */
export function lineModel(buses: Record<string, SerialSettings>) {
  return (path: string, settings: SerialSettings): Link => {
    const bus = buses[path];
    if (!bus) throw new Error(`no line model for ${path}`);
    return new LineModelLink(path, settings, bus);
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `doorstep provision ARGS` as a child process (async: never block the event loop of a test
 * that serves the simulator). `unprivileged`: as root, drop the capabilities that let root ignore
 * file permissions, so a mode-000 path is refused as it would be for an installer.
 */
export function runProvision(
  args: string[],
  options: {
    unprivileged?: boolean;
    onStdout?: (text: string, child: ReturnType<typeof spawn>) => void;
  } = {},
): Promise<CliResult> {
  const node = [process.execPath, '--import', 'tsx', 'bin/doorstep.ts', 'provision', ...args];
  const asRoot = process.getuid?.() === 0;
  const argv =
    options.unprivileged && asRoot
      ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search', '--', ...node]
      : node;
  const child = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    options.onStdout?.(stdout, child);
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    options.onStdout?.(stdout + stderr, child);
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}
