import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { AccessControl } from '../../edge/broker/access-control.js';
import type { LocalBrokerConfig } from '../../edge/broker/config.js';
import { shippedFlows } from '../../edge/runtime/node-red.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const GW = 'gw-acl';

/** The example broker configuration of edge/broker/README.md, "Users and ACLs", as the README shows it. */
function exampleBroker(): { users: { username: string; acl: { publish: string[]; subscribe: string[] } }[] } {
  const readme = readFileSync(`${ROOT}edge/broker/README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('## Users and ACLs'));
  const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'the README has the example');
  return (parse(block) as { broker: ReturnType<typeof exampleBroker> }).broker;
}

/** `pattern` of a node source file (flows/nodes/*.js) with the gateway id put in. */
function fromNodeSource(file: string, pattern: RegExp): string[] {
  const text = readFileSync(`${ROOT}flows/nodes/${file}`, 'utf8');
  return [...text.matchAll(pattern)].map((m) => m[1]!.replace(/\$\{(?:this|broker)\.gatewayId\}|%g/g, GW));
}

describe("the shipped flows and the README's example ACL agree", () => {
  const broker = exampleBroker();
  const nodeRedUser = broker.users.find((u) => u.username === 'node-red')!;
  const access = new AccessControl(
    { users: [{ ...nodeRedUser, passwordHash: 'unused' }], allowAnonymous: false } as unknown as Pick<
      LocalBrokerConfig,
      'users' | 'allowAnonymous' | 'anonymousAcl'
    >,
    GW,
  );
  const flows = shippedFlows();

  it('every topic the shipped flows and nodes publish is allowed to user node-red', () => {
    // The tabs' *_TOPIC environment (the function nodes hand these to `doorstep publish`).
    const tabTopics = flows.flatMap((n) =>
      ((n.env as { name: string; value: string }[] | undefined) ?? [])
        .filter((e) => /_TOPIC$/.test(e.name) && e.value !== '')
        .map((e) => e.value.replaceAll('%g', GW)),
    );
    // The node's own topic of every `doorstep publish` that has one.
    const nodeTopics = flows
      .filter((n) => n.type === 'doorstep-publish' && typeof n.topic === 'string' && n.topic !== '')
      .map((n) => (n.topic as string).replaceAll('%g', GW));
    // The broker node's retained status (birth, will, stop) and the command node's commands.
    const status = fromNodeSource('broker.js', /statusTopic = `([^`]+)`/g);
    const commandTemplate = fromNodeSource('command.js', /publish\(`([^`]+)`/g);
    const commands = readFileSync(`${ROOT}flows/nodes/command.js`, 'utf8');
    const names = JSON.parse(
      /const COMMANDS = (\[[^\]]*\])/.exec(commands)![1]!.replaceAll("'", '"'),
    ) as string[];
    const commandTopics = commandTemplate.flatMap((t) => names.map((c) => t.replace(/\$\{command\}/, c)));
    const published = [...tabTopics, ...nodeTopics, ...status, ...commandTopics];
    assert.ok(
      status.length === 1 && tabTopics.length >= 4 && commandTopics.length === 4,
      published.join(', '),
    );
    const denied = published.filter((t) => !access.mayPublish('node-red', t));
    assert.deepEqual(denied, [], 'the broker would drop Node-RED for these');
    // And nothing beyond: Node-RED cannot fake readings or alarms.
    assert.equal(access.mayPublish('node-red', `doorstep/${GW}/alarms/smoke-1/smoke`), false);
    assert.equal(access.mayPublish('node-red', `doorstep/${GW}/readings/smoke-1/smoke`), false);
  });

  it('every filter the nodes subscribe is granted to user node-red', () => {
    const filters = [
      ...fromNodeSource('alarm.js', /const filter = `([^`]+)`/g),
      ...fromNodeSource('reading.js', /const filter = `([^`]+)`/g),
      ...fromNodeSource('command.js', /subscribe\(`([^`]+)`/g),
    ].map((f) => f.replace(/\$\{[^}]+\}/g, '+'));
    assert.equal(filters.length, 3, filters.join(', '));
    const denied = filters.filter((f) => !access.maySubscribe('node-red', f));
    assert.deepEqual(denied, []);
  });
});
