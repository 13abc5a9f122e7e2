import { parseArgs } from 'node:util';
import { FileReadError, readYamlFile } from '../../common/yaml.js';
import { DoorstepError } from '../../protocol/errors.js';
import { FeedKind } from '../../protocol/feed.js';
import { ScopePath } from '../../protocol/site.js';
import { CurveKey } from './curve.js';
import { formatFeedLine } from './format.js';
import { FeedSubscriber } from './subscriber.js';

const HELP = `Usage: doorstep feed --endpoint tcp://HOST:PORT --scope DISTRICT[/TOWN[/COMMUNITY]] [options]

Prints the live tier feed of one scope, one line per event (time, kind, site, gateway, summary),
until Ctrl-C.

  --endpoint tcp://HOST:PORT  the cloud's feed endpoint (required)
  --scope PATH                district, district/town or district/town/community (required)
  --kind LIST                 only these kinds, comma-separated: ${FeedKind.options.join(',')}
  --json                      print each message's raw JSON body instead of a summary line
  --server-key KEY            the feed's CURVE server public key (40 Z85 characters)
  --client-keys FILE          YAML/JSON {publicKey, secretKey}: this client's CURVE key pair, for
                              feeds that admit only listed clients (default: a fresh pair)
  -h, --help                  show this help
`;

function usage(reason: string): DoorstepError {
  return new DoorstepError('CLI_ERR_USAGE', { reason });
}

function parseKinds(text: string): FeedKind[] {
  const kinds = text.split(',').map((k) => k.trim());
  for (const kind of kinds)
    if (!FeedKind.safeParse(kind).success)
      throw usage(`--kind "${kind}" is not one of ${FeedKind.options.join(', ')}`);
  return kinds as FeedKind[];
}

function readClientKeys(file: string): { publicKey: string; secretKey: string } {
  let doc: unknown;
  try {
    doc = readYamlFile(file, { json: 'by-extension' });
  } catch (error) {
    throw new DoorstepError('CFG_ERR_UNREADABLE', {
      file,
      reason: error instanceof FileReadError ? error.reason : String(error),
    });
  }
  const keys = doc as { publicKey?: unknown; secretKey?: unknown } | null;
  if (!CurveKey.safeParse(keys?.publicKey).success || !CurveKey.safeParse(keys?.secretKey).success)
    throw usage(`--client-keys ${file} must hold publicKey and secretKey, each 40 Z85 characters`);
  return { publicKey: String(keys?.publicKey), secretKey: String(keys?.secretKey) };
}

export async function run(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (error) {
    throw usage(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const { endpoint, scope } = values;
  if (endpoint === undefined) throw usage('--endpoint tcp://HOST:PORT is required');
  if (!/^tcp:\/\/[^\s/:]+:\d{1,5}$/.test(endpoint))
    throw usage(`--endpoint "${endpoint}" must be tcp://HOST:PORT`);
  if (scope === undefined) throw usage('--scope DISTRICT[/TOWN[/COMMUNITY]] is required');
  if (!ScopePath.safeParse(scope).success)
    throw usage(`--scope "${scope}" must be district[/town[/community]] in lower-case slugs`);
  const kinds = values.kind === undefined ? undefined : parseKinds(values.kind);
  const serverKey = values['server-key'];
  if (serverKey !== undefined && !CurveKey.safeParse(serverKey).success)
    throw usage('--server-key must be the 40-character Z85 public key of the feed');
  if (values['client-keys'] !== undefined && serverKey === undefined)
    throw usage('--client-keys needs --server-key');
  const clientKeys = values['client-keys'] === undefined ? undefined : readClientKeys(values['client-keys']);

  const subscriber = new FeedSubscriber({
    endpoint,
    scope,
    ...(kinds ? { kinds } : {}),
    ...(serverKey
      ? {
          curve: {
            serverPublicKey: serverKey,
            ...(clientKeys
              ? { clientPublicKey: clientKeys.publicKey, clientSecretKey: clientKeys.secretKey }
              : {}),
          },
        }
      : {}),
  });
  // zeromq retries a failed handshake every few hundred ms: say it once per kind of failure.
  const reported = new Set<string>();
  subscriber.onHandshakeFailure((failure) => {
    if (reported.has(failure.type)) return;
    reported.add(failure.type);
    process.stderr.write(
      `doorstep feed: handshake with ${endpoint} failed (${failure.type}: ${failure.reason}); ` +
        `check --server-key${failure.type === 'auth' ? ' and whether this client key is allowed' : ''}\n`,
    );
  });
  const stop = () => subscriber.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    subscriber.connect();
    process.stderr.write(
      `doorstep feed: ${scope} (${(kinds ?? FeedKind.options).join(',')}) from ${endpoint}; Ctrl-C to stop\n`,
    );
    for await (const message of subscriber.messages())
      process.stdout.write(`${values.json ? JSON.stringify(message) : formatFeedLine(message)}\n`);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    subscriber.close();
  }
  const { invalid } = subscriber.stats();
  if (invalid > 0) process.stderr.write(`doorstep feed: skipped ${invalid} invalid message(s)\n`);
  return 0;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      endpoint: { type: 'string' },
      scope: { type: 'string' },
      kind: { type: 'string' },
      json: { type: 'boolean' },
      'server-key': { type: 'string' },
      'client-keys': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
}
