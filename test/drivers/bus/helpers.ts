import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export async function until(condition: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A child process that is killed and awaited by stop(); safe to call twice. */
export interface Child {
  process: ChildProcess;
  stop(): Promise<void>;
}

function supervise(child: ChildProcess): Child {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Starts `socat` linking two ptys at fixed paths (so a "replugged" adapter reappears at the same path). */
export async function startSocat(a: string, b: string): Promise<Child> {
  const child = supervise(
    spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' }),
  );
  try {
    await until(() => existsSync(a) && existsSync(b), 'socat ptys');
  } catch (error) {
    await child.stop();
    throw error;
  }
  return child;
}

/**
 * Runs the pymodbus fixture and waits for its `READY <what>` line; returns what it printed.
 * `stdin: true` keeps a pipe to it for commands (`late <ms>`).
 */
export async function startPymodbus(
  args: string[],
  options: { stdin?: boolean } = {},
): Promise<Child & { ready: string; output(): string }> {
  const script = new URL('../modbus/fixtures/pymodbus_slave.py', import.meta.url).pathname;
  const child = supervise(
    spawn('/usr/bin/python3', [script, ...args], {
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    }),
  );
  let stdout = '';
  let stderr = '';
  child.process.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.process.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  try {
    await until(
      () => /READY (\S+)/.test(stdout) || child.process.exitCode !== null,
      'pymodbus READY',
      15_000,
    );
  } catch (error) {
    await child.stop();
    throw error;
  }
  const match = /READY (\S+)/.exec(stdout);
  if (!match) {
    await child.stop();
    throw new Error(`pymodbus slave did not start: ${stderr.slice(-800)}`);
  }
  return { ...child, ready: match[1]!, output: () => stdout };
}
