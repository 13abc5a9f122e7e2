'use strict';
// `doorstep command`: sends ack / silence / reset / walk_test to the gateway on
// doorstep/<gw>/commands/<command>, waits for the answer on commands/result (matched by
// requestId) and outputs it as msg.payload ({requestId, command, ok, error?, code?, issues?}).
// The gateway validates the body strictly; this node passes the answer on rather than guessing.
const { useBroker, parseJson } = require('./lib.js');

const COMMANDS = ['ack', 'silence', 'reset', 'walk_test'];

module.exports = function register(RED) {
  function DoorstepCommandNode(config) {
    RED.nodes.createNode(this, config);
    const broker = useBroker(RED, this, config.broker);
    if (!broker) return;
    const timeoutMs = Number(config.timeoutMs) || 5000;
    /** requestId → {msg, send, done, timer} */
    const pending = new Map();

    const unsubscribe = broker.subscribe(`doorstep/${broker.gatewayId}/commands/result`, (topic, payload) => {
      const result = parseJson(this, topic, payload);
      const waiting = result && pending.get(result.requestId);
      if (!waiting) return; // someone else's command
      pending.delete(result.requestId);
      clearTimeout(waiting.timer);
      this.status(
        result.ok
          ? { fill: 'green', shape: 'dot', text: `${result.command} ok` }
          : { fill: 'red', shape: 'dot', text: `${result.command}: ${result.code || 'refused'}` },
      );
      waiting.msg.payload = result;
      waiting.send(waiting.msg);
      waiting.done();
    });

    this.on('input', (msg, send, done) => {
      // Fields set on the node win; empty ones are taken from the message.
      const command = config.command && config.command !== 'msg' ? config.command : msg.command;
      if (!COMMANDS.includes(command)) {
        done(new Error(`unknown command "${command}" (one of ${COMMANDS.join(', ')})`));
        return;
      }
      const requestId = RED.util.generateId();
      const body = { device: config.device || msg.device, by: config.by || msg.by || 'node-red', requestId };
      const type = config.alarmType || msg.alarmType;
      if (type) body.type = type;
      if (command === 'walk_test')
        body.on = config.on === 'msg' || config.on === undefined ? msg.on : config.on === 'true';
      const timer = setTimeout(() => {
        pending.delete(requestId);
        this.status({ fill: 'yellow', shape: 'ring', text: `${command}: no answer` });
        msg.payload = {
          requestId,
          command,
          ok: false,
          code: 'TIMEOUT',
          error: `no result within ${timeoutMs} ms`,
        };
        send(msg);
        done();
      }, timeoutMs);
      pending.set(requestId, { msg, send, done, timer });
      broker.publish(`doorstep/%g/commands/${command}`, body, { qos: 1 }).catch((error) => {
        clearTimeout(timer);
        pending.delete(requestId);
        done(error);
      });
    });

    this.on('close', () => {
      unsubscribe();
      for (const { timer, done } of pending.values()) {
        clearTimeout(timer);
        done();
      }
      pending.clear();
    });
  }
  RED.nodes.registerType('doorstep-command', DoorstepCommandNode);
};
