import { readFileSync } from 'node:fs';

/**
 * The command line and environment of the shipped systemd unit (edge/systemd/doorstep-edge.service,
 * or a flashed copy of it), so tests and benchmarks start the gateway exactly as a box on site
 * does: same node flags, same arguments. Only paths are substituted (`replace`: unit path → local
 * path, applied to every argument), never flags.
 */
export interface UnitCommand {
  /** The executable, as written in the unit (e.g. /usr/bin/node). */
  command: string;
  args: string[];
  /** `Environment=` assignments of the unit. */
  env: Record<string, string>;
}

/** systemd.service(5) ExecStart: a command line of words; the units we ship use no quoting. */
export function readUnitCommand(unitFile: string, replace: Record<string, string> = {}): UnitCommand {
  const text = readFileSync(unitFile, 'utf8');
  const lines = text.split('\n').map((line) => line.trim());
  const exec = lines.filter((line) => line.startsWith('ExecStart='));
  if (exec.length !== 1) throw new Error(`${unitFile}: expected one ExecStart= line, found ${exec.length}`);
  const line = exec[0]!.slice('ExecStart='.length);
  if (/["'\\]/.test(line)) throw new Error(`${unitFile}: ExecStart uses quoting this helper does not parse`);
  const words = line
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => Object.entries(replace).reduce((w, [from, to]) => w.replaceAll(from, to), word));
  const [command, ...args] = words;
  if (command === undefined) throw new Error(`${unitFile}: empty ExecStart`);
  const env: Record<string, string> = {};
  for (const assignment of lines.filter((l) => l.startsWith('Environment=')))
    for (const pair of assignment.slice('Environment='.length).split(/\s+/).filter(Boolean)) {
      const eq = pair.indexOf('=');
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  return { command, args, env };
}

/** The shipped unit in this repository. */
export const EDGE_UNIT = new URL('../../edge/systemd/doorstep-edge.service', import.meta.url).pathname;

/** The shipped unit that runs Node-RED apart from the gateway (nodeRed.supervisor: systemd). */
export const NODE_RED_UNIT = new URL('../../edge/systemd/doorstep-node-red.service', import.meta.url)
  .pathname;

/** Every `Key=value` of a unit's [Service] section, in order (a key may repeat). */
export function readUnitDirectives(unitFile: string, section = 'Service'): [string, string][] {
  let current = '';
  const out: [string, string][] = [];
  for (const raw of readFileSync(unitFile, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) current = header[1]!;
    else if (current === section) {
      const eq = line.indexOf('=');
      if (eq > 0) out.push([line.slice(0, eq), line.slice(eq + 1)]);
    }
  }
  return out;
}
