'use strict';
// Helpers shared by the doorstep nodes (not a node: package.json does not list it).

/** MQTT 3.1.1 §4.7 topic-filter matching (`+` one level, `#` the rest). */
function filterMatches(filter, topic) {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** "a, b ,c" → ['a','b','c']; empty → [] (= no filter). */
function list(text) {
  if (Array.isArray(text)) return text.filter(Boolean);
  return String(text || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Resolves a node's `doorstep broker` and mirrors its connection state in the node's status, so
 * a flow whose gateway connection is down shows it in the editor.
 */
function useBroker(RED, node, brokerId) {
  const broker = RED.nodes.getNode(brokerId);
  if (!broker) {
    node.status({ fill: 'red', shape: 'ring', text: 'no doorstep broker' });
    node.error('no doorstep broker configured');
    return undefined;
  }
  const show = (state) =>
    node.status(
      state === 'connected'
        ? { fill: 'green', shape: 'dot', text: 'connected' }
        : { fill: 'red', shape: 'ring', text: 'disconnected' },
    );
  show(broker.client?.connected ? 'connected' : 'disconnected');
  broker.on('doorstep-status', show);
  node.on('close', () => broker.removeListener('doorstep-status', show));
  return broker;
}

/** Parses a JSON MQTT payload; undefined (and a warning) when it is not JSON. */
function parseJson(node, topic, payload) {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    node.warn(`not JSON on ${topic}`);
    return undefined;
  }
}

module.exports = { filterMatches, list, useBroker, parseJson };
