/**
 * The one catalogue of error codes for the whole of doorstep (docs/architecture.md: "one catalogue of error
 * codes"). Every error a user can meet carries one of these codes; docs/errors.md lists them and a
 * test keeps the two in step. Message templates use {name} placeholders filled from `details`.
 */
export const ERROR_CATALOGUE = {
  // ── drivers: links and Modbus ──────────────────────────────────────────────────────────────
  DRV_ERR_TIMEOUT: {
    message: 'no reply from {target} within {timeoutMs} ms',
    hint: 'Check wiring (A/B swapped?), power, unit id and baud rate/parity of the device.',
  },
  DRV_ERR_CRC: {
    message: 'reply from {target} failed its CRC check',
    hint: 'Noise or a baud/parity mismatch on the RS-485 line; check termination and shielding.',
  },
  DRV_ERR_SHORT_FRAME: {
    message: 'reply from {target} was truncated ({got} of {expected} bytes)',
    hint: 'The device stopped mid-reply or another master is on the bus.',
  },
  DRV_ERR_UNIT_MISMATCH: {
    message: 'reply came from unit {got}, expected unit {expected}',
    hint: 'Two devices share an address, or a late reply from another unit arrived.',
  },
  DRV_ERR_EXCEPTION: {
    message: '{target} answered with Modbus exception {exceptionCode} ({exceptionName})',
    hint: 'The register map does not match the device: check the profile and firmware version.',
  },
  DRV_ERR_BAD_REPLY: {
    message: 'reply from {target} is malformed: {reason}',
    hint: 'The device does not speak the expected function code or framing.',
  },
  DRV_ERR_LINK_DOWN: {
    message: 'link {link} is not open: {reason}',
    hint: 'The serial adapter was unplugged or the TCP peer is unreachable; doorstep reconnects with backoff.',
  },
  DRV_ERR_LINK_OPEN: {
    message: 'cannot open {link}: {reason}',
    hint: 'Check the port path (prefer /dev/serial/by-id/…), permissions (group dialout) and that nothing else holds it.',
  },
  DRV_ERR_BUS_STALLED: {
    message: 'bus {bus} completed no transaction for {stalledMs} ms',
    hint: 'The bus scheduler is stuck or every device is offline; see device states.',
  },
  DRV_ERR_CANCELLED: {
    message: 'request to {target} was cancelled: {reason}',
    hint: 'The bus was stopped or reconfigured while the request waited.',
  },
  DRV_ERR_DECODE: {
    message: 'cannot decode {point} of {device}: {reason}',
    hint: 'The register values do not fit the profile (wrong data type or word order?).',
  },
  DRV_ERR_PROFILE: {
    message: 'profile {profile} is invalid: {reason}',
    hint: 'Fix the profile declaration; every problem is listed with its path.',
  },
  DRV_ERR_UNKNOWN_PROFILE: {
    message: 'no sensor profile named {profile}',
    hint: 'Run `doorstep profile list` to see the built-in profiles; a profile file is named by its path (./my-device.yaml).',
  },
  DRV_ERR_FRAME_CHECKSUM: {
    message: 'frame from {link} discarded: checksum {got}, expected {expected}',
    hint: 'Radio noise or a receiver speaking another frame format.',
  },
  DRV_ERR_FRAME_SYNTAX: {
    message: 'frame from {link} discarded: {reason}',
    hint: 'The receiver speaks another frame format or the baud rate is wrong.',
  },
  DRV_ERR_MQTT_PAYLOAD: {
    message: 'MQTT message on {topic} rejected: {reason}',
    hint: 'The sensor publishes a payload the profile does not describe.',
  },
  DRV_ERR_PROFILE_FILE: {
    message: 'cannot read profile file {file}: {reason}',
    hint: 'Check the path and permissions, and that the file is valid YAML or JSON; `doorstep profile new` writes a skeleton.',
  },
  DRV_ERR_IMPLAUSIBLE: {
    message: '{device} reports what cannot be true: {reason}',
    hint: 'The readings are marked uncertain and no alarm is trusted from them: check the sensor, and that the profile (data type, word order, scale, range) matches its firmware.',
  },
  // ── drivers: wireless frame receivers (drivers/frames) ─────────────────────────────────────
  DRV_ERR_FRAME_UNKNOWN_DETECTOR: {
    message: 'frame from {link} names detector {detector}, which is bound to no device',
    hint: 'Add the detector to the receiver configuration, or it belongs to a neighbouring receiver.',
  },
  DRV_ERR_BUS_DEGRADED: {
    message: 'bus {bus} delivered no valid frame for {seconds} s; rejected: {rejected}',
    hint: 'Bytes arrive but none forms a valid frame: check the baud rate and frame format (codec) of the receiver, its antenna and interference nearby.',
  },
  // ── drivers: Modbus requests and the bus scheduler ─────────────────────────────────────────
  DRV_ERR_BAD_REQUEST: {
    message: 'request to {target} is invalid: {reason}',
    hint: 'Modbus limits a read to 125 registers or 2000 bits and a write to 123 registers or 1968 coils; addresses are 0–65535.',
  },
  DRV_ERR_UNKNOWN_DEVICE: {
    message: 'bus {bus} has no device {device}',
    hint: 'The device was removed or never configured on this bus; check the site configuration.',
  },
  DRV_ERR_LATE_REPLY: {
    message:
      '{target} answered {turnaroundMs} ms after the request, later than its {timeoutMs} ms timeout; the reply was discarded',
    hint: 'The device is slow (or the bus is long and slow): raise the bus timeoutMs to at least the needed timeout shown with the device, or lower its poll rate.',
  },
  DRV_ERR_REPLY_MISMATCH: {
    message: 'reply from {target} does not answer the request: {reason}; discarded',
    hint: 'Usually a late reply to an earlier request; otherwise the device echoes wrongly or two devices share an address.',
  },
  // ── drivers: writing a device's own settings (`doorstep modbus`) ────────────────────────────
  DRV_ERR_NO_SETTINGS: {
    message: "profile {profile} does not declare how the device's {what} is written",
    hint: "Add a `settings` section with the register (and codes) from the device's manual to a profile file (docs/profile.schema.json) and name that file, or use the vendor's tool.",
  },
  DRV_ERR_SETTINGS_VERIFY: {
    message: '{target}: {reason}',
    hint: 'The device did not take (or confirm) the new setting: read it back with `doorstep poll --raw` at the old and the new address/speed; some devices apply settings only after a power cycle.',
  },
  // ── drivers: simulated Modbus devices (drivers/sim) ──────────────────────────────────────────
  SIM_ERR_CONFIG: {
    message: 'simulator {what} is invalid: {reason}',
    hint: 'Unit ids are 1–247 on RTU (0 is broadcast) and 0–255 on TCP; fault and pacing settings must be in range.',
  },
  SIM_ERR_VALUE: {
    message: 'value {value} does not fit {type} at {table} address {address}',
    hint: 'Check the data type, range and scale of the simulated point.',
  },
  // ── configuration (any component) ─────────────────────────────────────────────────────────
  CFG_ERR_INVALID: {
    message: 'configuration has {count} problem(s): {summary}',
    hint: 'Each problem is listed with its path; fix them and start again.',
  },
  CFG_ERR_UNREADABLE: {
    message: 'cannot read configuration file {file}: {reason}',
    hint: 'Check the path and permissions, and that the file is valid YAML.',
  },
  CLI_ERR_USAGE: {
    message: '{reason}',
    hint: 'Run `doorstep --help` or `doorstep <command> --help`.',
  },
  // ── edge: outbox ──────────────────────────────────────────────────────────────────────────
  EDGE_ERR_OUTBOX_ENTRY: {
    message: 'outbox entry {index} rejected: {reason}',
    hint: 'The producer built an invalid entry; nothing of this put() was stored. Fix the producer.',
  },
  EDGE_ERR_OUTBOX_CLOSED: {
    message: 'outbox {outbox} is not open',
    hint: 'open() the outbox before use; it was closed or never opened (a bug in the wiring).',
  },
  EDGE_ERR_OUTBOX_OPEN: {
    message: 'cannot open outbox {outbox}: {reason}',
    hint: 'Check the data directory (exists, writable, free space) and that no other doorstep process holds the file.',
  },
  EDGE_ERR_OUTBOX_SCHEMA: {
    message: 'outbox {outbox} has schema version {found}; this build supports up to {supported}',
    hint: 'The file was written by a newer doorstep. Upgrade the gateway software instead of downgrading it.',
  },
  // ── edge: alarm rules (edge/rules) ─────────────────────────────────────────────────────────
  EDGE_ERR_RULE_STATE: {
    message: 'rule state store {file} failed: {reason}',
    hint: 'Check the path, free disk space and permissions of the gateway data directory.',
  },
  EDGE_ERR_RULE_FILE: {
    message: 'rule file {file} has {count} problem(s): {summary}',
    hint: 'Each problem is listed with its path in the file (`doorstep rules check FILE`); fix them and load it again.',
  },
  EDGE_ERR_RULE_RESET: {
    message: 'cannot reset {type} of {device}: {reason}',
    hint: 'Only a latched alarm whose condition has ended can be reset; check the device first.',
  },
  // ── edge: local MQTT broker (edge/broker) ──────────────────────────────────────────────────
  EDGE_ERR_BROKER_LISTEN: {
    message: 'local MQTT broker cannot listen on {host}:{port}: {reason}',
    hint: 'Another process holds the port (a second doorstep, mosquitto?), or the address is not on this host.',
  },
  EDGE_ERR_BROKER_STATE: {
    message: 'local MQTT broker is {state}; {operation} needs it running',
    hint: 'start() the broker before publishing or subscribing (a bug in the wiring).',
  },
  EDGE_ERR_BROKER_PUBLISH: {
    message: 'cannot publish on {topic}: {reason}',
    hint: 'The message or one of its ids is invalid; nothing was published.',
  },
  EDGE_ERR_BROKER_TOPIC: {
    message: 'cannot build the {what} topic: {reason}',
    hint: 'Gateway, device and point ids must be slugs without "/", "+" or "#".',
  },
  EDGE_ERR_BROKER_COMMAND: {
    message: 'command {command} rejected: {reason}',
    hint: 'Check the JSON body against the command table in edge/broker/README.md; nothing was changed.',
  },
  EDGE_ERR_BROKER_PASSWORD: {
    message: 'cannot hash or check a broker password: {reason}',
    hint: 'Passwords must be non-empty; hashes look like scrypt$N$r$p$salt$hash (see edge/broker/README.md).',
  },
  // ── cloud: storage (cloud/store) ──────────────────────────────────────────────────────────
  CLOUD_ERR_STORE_SCOPE: {
    message: 'invalid scope "{scope}": must be district[/town[/community]]',
    hint: 'Scopes are lower-case slugs joined by "/", e.g. pudong or pudong/zhangjiang.',
  },
  CLOUD_ERR_STORE_CLOSED: {
    message: 'the cloud store is closed ({operation})',
    hint: 'The store was used after close(); the service is shutting down or was wired wrongly.',
  },
  CLOUD_ERR_STORE_CONFIG: {
    message: 'invalid cloud store configuration: {reason}',
    hint: "Use { kind: 'memory' }, { kind: 'sqlite', path } or { kind: 'postgres', url, poolSize? }.",
  },
  CLOUD_ERR_STORE_SCHEMA: {
    message: 'database schema version {found} is newer than this build supports ({supported})',
    hint: 'A newer doorstep migrated this database; run that version or restore a matching backup.',
  },
  CLOUD_ERR_STORE_CONFLICT: {
    message: '{what} "{id}" already exists',
    hint: 'Identifiers, usernames and secret hashes are unique; pick another one.',
  },
  CLOUD_ERR_STORE_NOT_FOUND: {
    message: '{what} "{id}" does not exist',
    hint: 'Check the identifier; it may have been deleted or never created.',
  },
  CLOUD_ERR_STORE_GATEWAY_MISMATCH: {
    message: 'batch from gateway "{expected}" names gateway "{got}" at {field}',
    hint: 'A gateway may only write its own records; check the gateway id in its configuration.',
  },
  CLOUD_ERR_STORE_UNAVAILABLE: {
    message: 'storage failed during {operation}: {reason}',
    hint: 'The database is unreachable, full or kept failing after retries; nothing of this request was stored.',
  },
  CLOUD_ERR_STORE_SETTING: {
    message: 'PostgreSQL setting {setting} = {value}: {risk}',
    hint: 'A warning at start; the cloud keeps running. Change the setting in postgresql.conf (or ALTER SYSTEM) and reload; cloud/store/README.md lists the recommended settings.',
  },
  // ── cloud: tier feed (cloud/feed) ──────────────────────────────────────────────────────────
  CLOUD_ERR_FEED_BIND: {
    message: 'tier feed cannot bind {endpoint}: {reason}',
    hint: 'Another process holds the port, or the address is not on this host; use tcp://HOST:PORT or tcp://HOST:*.',
  },
  CLOUD_ERR_FEED_STATE: {
    message: 'tier feed is {state}; {operation} needs it running',
    hint: 'start() the feed before publishing and stop publishing before stop() (a bug in the wiring).',
  },
  CLOUD_ERR_FEED_MESSAGE: {
    message: 'feed message rejected: {reason}',
    hint: 'The producer built an invalid FeedMessage (see protocol/feed.ts); nothing was published.',
  },
  CLOUD_ERR_FEED_CONNECT: {
    message: 'feed subscriber cannot connect to {endpoint}: {reason}',
    hint: 'Use tcp://HOST:PORT of the cloud feed; with CURVE, pass the server public key (40 Z85 characters).',
  },
  // ── cloud: HTTP service, enrolment, credentials, ingest (cloud/http, cloud/auth, cloud/ingest) ──
  CLOUD_ERR_AUTH: {
    message: 'authentication failed: {reason}',
    hint: 'Send Authorization: Bearer <secret> (gateway credential or API token), or HTTP Basic on POST /v1/api-tokens.',
  },
  CLOUD_ERR_ACCOUNT_LOCKED: {
    message:
      'sign-in as {username} from this address is paused until {until} after {attempts} failed attempts',
    hint: 'Wait until then (Retry-After) or sign in from another address; each further lock of the same user name and address lasts twice as long, up to signIn.lockout.maxLockMs.',
  },
  CLOUD_ERR_SIGNIN_BUSY: {
    message: 'too many password checks at once ({limit} running or waiting); retry shortly',
    hint: 'Sign-ins are checked on a few threads of their own (signIn.pool); retry after the Retry-After seconds.',
  },
  CLOUD_ERR_GATEWAY_REVOKED: {
    message: 'gateway {gateway} is revoked',
    hint: 'A revoked gateway cannot sync; enrol it again with a new enrolment token.',
  },
  CLOUD_ERR_ENROLL_TOKEN: {
    message: 'enrolment token is unknown (mistyped, or not issued by this cloud)',
    hint: 'Ask a supervisor for a new enrolment token (POST /v1/enrollment-tokens) for the gateway site.',
  },
  CLOUD_ERR_FORBIDDEN: {
    message: 'role {role} may not {action} (needs {needed})',
    hint: 'Use an API token of a user with a higher role, or ask an administrator.',
  },
  CLOUD_ERR_CREDENTIAL_RETIRED: {
    message:
      'gateway credential {credential} was rotated out (valid for sync until {until}) and cannot rotate',
    hint: 'Rotate with the newest credential. A rotated-out one only keeps syncing through its grace period; if the newest is lost, an administrator revokes the gateway and it enrols again.',
  },
  CLOUD_ERR_SCOPE: {
    message: '{what} {path} lies outside the scope {scope}',
    hint: 'A user, token or gateway sees and writes only inside its own site scope (district ⊃ town ⊃ community).',
  },
  CLOUD_ERR_GATEWAY_MISMATCH: {
    message: '{field} is {claimed}, but the credential belongs to {gateway}',
    hint: 'A gateway may only write as itself: check the gateway id in its configuration and its credential.',
  },
  CLOUD_ERR_SITE_MISMATCH: {
    message: 'batch names site {claimed}, but gateway {gateway} is registered at {site}',
    hint: 'The gateway configuration and its enrolment disagree; fix the site in the gateway configuration.',
  },
  CLOUD_ERR_VALIDATION: {
    message: '{field}: {reason}',
    hint: 'Fix the named field; nothing was stored or changed.',
  },
  CLOUD_ERR_NOT_JSON: {
    message: 'request body is not valid JSON: {reason}',
    hint: 'Send a JSON document with Content-Type: application/json.',
  },
  CLOUD_ERR_BAD_ENCODING: {
    message: 'request body cannot be decoded as {encoding}: {reason}',
    hint: 'The body was truncated or is not gzip; send it again, gzip-compressed or plain.',
  },
  CLOUD_ERR_UNSUPPORTED_MEDIA: {
    message: 'unsupported {what}: {value}',
    hint: 'Send Content-Type: application/json, optionally with Content-Encoding: gzip.',
  },
  CLOUD_ERR_TOO_LARGE: {
    message: 'request body is larger than {limit} bytes ({what})',
    hint: 'Send smaller batches; limits are http.bodyLimitBytes (compressed) and http.maxInflatedBytes (inflated).',
  },
  CLOUD_ERR_CONFLICT: {
    message: '{what} {id} already exists',
    hint: 'Pick another id, or revoke and remove the existing one first.',
  },
  CLOUD_ERR_NOT_FOUND: {
    message: 'no {what} {id}',
    hint: 'Check the URL and the identifier; GET /openapi.json lists every endpoint.',
  },
  CLOUD_ERR_RATE_LIMITED: {
    message: 'too many requests; retry in {retryAfter}',
    hint: 'Slow down: the limit is http.rateLimit per verified principal (or per client address without one), and signIn.perSource / signIn.global for password sign-ins.',
  },
  CLOUD_ERR_UNAVAILABLE: {
    message: 'the cloud cannot serve this now: {reason}',
    hint: 'The store is unreachable or the service is stopping; retry later (gateways keep their outbox).',
  },
  CLOUD_ERR_INTERNAL: {
    message: 'internal error (request {requestId})',
    hint: 'A bug: the server log has the details under this request id.',
  },
  CLOUD_ERR_TIME_RANGE: {
    message: '{field}: {reason}',
    hint: 'The gateway clock or its reported clock offset is wrong: times must lie between the gateway enrolment (minus ingest.maxBeforeEnrolmentMs) and the cloud clock plus ingest.maxAheadMs. Check the gateway NTP/RTC; nothing was stored.',
  },
  CLOUD_ERR_DEVICE_LIMIT: {
    message: 'gateway {gateway} would have {count} devices, more than its limit of {limit} ({field})',
    hint: 'A gateway registers at most ingest.maxDevicesPerGateway devices; check the gateway configuration for stray device ids, or raise the limit in the cloud configuration.',
  },
  CLOUD_ERR_ENROLL_TOKEN_EXPIRED: {
    message: 'enrolment token expired at {expiresAt}',
    hint: 'Ask a supervisor for a new enrolment token (POST /v1/enrollment-tokens) for the gateway site.',
  },
  CLOUD_ERR_ENROLL_TOKEN_USED: {
    message: 'enrolment token is used up: it enrolled every gateway it was issued for',
    hint: 'Each token enrols a limited number of gateways; ask a supervisor for a new one.',
  },
  // ── cloud: account life cycle (cloud/auth/accounts.ts) ──────────────────────────────────────
  CLOUD_ERR_PASSWORD_POLICY: {
    message: 'new password for {username} refused: it {reason}',
    hint: 'Choose a passphrase of at least 12 characters that does not contain the user name, e.g. four unrelated words; nothing was changed.',
  },
  CLOUD_ERR_PASSWORD_CURRENT: {
    message: 'the current password given for {username} is wrong',
    hint: 'Type the password you signed in with; wrong attempts count towards the account lock like wrong sign-ins. Forgotten it? An administrator can reset it.',
  },
  CLOUD_ERR_ACCOUNT_SELF: {
    message: 'you cannot {action} your own account here',
    hint: 'Ask another administrator; to change your own password use POST /v1/me/password (控制台：修改密码).',
  },
  // ── edge: uplink to the cloud (edge/uplink) ────────────────────────────────────────────────
  EDGE_ERR_UPLINK_OPTIONS: {
    message: 'uplink options are invalid: {reason}',
    hint: 'A wiring bug: check baseUrl, gateway id, site and the batch, timeout and backoff limits passed to Uplink.',
  },
  EDGE_ERR_UPLINK_STATE: {
    message: 'uplink state file {file} failed: {reason}',
    hint: 'Check free space and permissions of the gateway data directory; a corrupt file is set aside and batch numbers continue above the clock.',
  },
  EDGE_ERR_UPLINK_SEND: {
    message: 'batch {batchSeq} not delivered ({reason}): {detail}',
    hint: 'The network or the cloud is unavailable; the rows stay in the outbox and are retried with backoff.',
  },
  EDGE_ERR_UPLINK_AUTH: {
    message: 'cloud refused the gateway credentials (HTTP {status}): {detail}',
    hint: 'Check the gateway secret (rotated? revoked?) and its registration; data is kept and retried with backoff.',
  },
  EDGE_ERR_UPLINK_REJECTED: {
    message: 'cloud rejected batch {batchSeq} as malformed: {code} at {field}: {detail}',
    hint: 'The rejected rows were quarantined (outbox listQuarantine); fix the producer or the cloud, then requeue them.',
  },
  EDGE_ERR_UPLINK_ROW: {
    message: 'outbox row {seq} ({cls}) cannot be sent: {reason}',
    hint: 'A producer stored a payload the sync protocol does not accept; the row was quarantined instead of sent.',
  },
  EDGE_ERR_UPLINK_STOPPED: {
    message: 'uplink is not running ({operation})',
    hint: 'start() the uplink before syncNow() (a bug in the wiring).',
  },
  EDGE_ERR_UPLINK_PLAINTEXT: {
    message:
      'uplink url {url} is plain http: the gateway secret and every alarm cross the network unencrypted',
    hint: "Use the cloud's https:// address. If the link is protected otherwise (a private APN, a VPN), set uplink.allowPlaintext: true to silence this warning.",
  },
  // ── cloud: alarm cases (cloud/alarms) ─────────────────────────────────────────────────────
  CLOUD_ERR_CASE_STATE: {
    message: 'case {id} cannot be {action}: {reason}',
    hint: 'The case is not in a state that allows this (see cloud/alarms/README.md, close preconditions); fix what the reason names first.',
  },
  CLOUD_ERR_CASE_REMOTE: {
    message: 'cannot reach the cloud at {url}: {reason}',
    hint: 'Check --url (or DOORSTEP_URL), that the cloud is running and that this machine can reach it.',
  },
  // ── cloud: notifiers (cloud/notify) ───────────────────────────────────────────────────────
  CLOUD_ERR_NOTIFY_TIMEOUT: {
    message: '{channel} attempt to {target} timed out after {timeoutMs} ms',
    hint: 'The robot, webhook or mail server did not answer in time; the attempt is retried with backoff.',
  },
  CLOUD_ERR_NOTIFY_FAILED: {
    message:
      'notification {request} to {recipient} via {channel} ({target}) failed after {attempts} attempts: {reason}',
    hint: 'Nobody was reached on this channel: check the address, the robot key/secret and the network; the stored attempts list every error.',
  },
  CLOUD_ERR_NOTIFY_CHANNEL: {
    message: 'no {channel} channel is configured: {reason}',
    hint: 'Configure it in the notify section (e-mail needs notify.smtp) or give the person another address.',
  },
  CLOUD_ERR_NOTIFY_ADDRESS: {
    message: 'invalid {channel} address for {recipient}: {reason}',
    hint: 'Fix the address in the duty roster: robot and webhook URLs must be http(s) URLs, e-mail addresses need an "@".',
  },
  CLOUD_ERR_NOTIFY_STORE: {
    message: 'notification store failed during {operation}: {reason}',
    hint: 'The database is unavailable; messages are still sent (a duplicate is better than silence) but may not be recorded.',
  },
  CLOUD_ERR_NOTIFY_SIGNATURE: {
    message: 'webhook signature rejected: {reason}',
    hint: 'Sender and receiver must share the secret, and their clocks must agree within the allowed window.',
  },
  CLOUD_ERR_NOTIFY_NOT_STARTED: {
    message: 'notifications are not started ({operation})',
    hint: 'start() the cloud before delivering notifications (a bug in the wiring).',
  },
  CLOUD_ERR_NOTIFY_INBOX: {
    message: 'duty inbox cannot listen on {host}:{port}: {reason}',
    hint: 'Pick a free port (0 = any) in notify.inbox.port, or stop whatever holds it.',
  },
  CLOUD_ERR_NOTIFY_THROTTLED: {
    message: '{channel} provider throttled the message to {target} ({code}: {reason})',
    hint: 'The SMS/voice provider or SMS centre limits messages per number and per account; the attempt is retried with backoff. Raise the quota with the provider, or give the person a second channel.',
  },
  CLOUD_ERR_NOTIFY_NUMBER: {
    message: '{channel} provider refused the number {target} ({code}: {reason})',
    hint: "Fix the person's phone in escalation.people: a mobile number that can receive SMS and calls, E.164 or mainland 11 digits. Not retried.",
  },
  CLOUD_ERR_NOTIFY_TEMPLATE: {
    message: '{channel} provider refused the template or sign ({code}: {reason})',
    hint: 'The template code, sign name or template variables are not approved or do not match what doorstep sends: check notify.sms / notify.voice (templateCode, signName, params) against the provider console. Not retried.',
  },
  CLOUD_ERR_NOTIFY_AUTH: {
    message: '{channel} provider refused the credentials ({code}: {reason})',
    hint: "Check the AccessKey id and secret (or the SMPP system_id and password), the account's permissions and IP allowlist, and that the cloud's clock is right. Not retried.",
  },
  CLOUD_ERR_NOTIFY_PROVIDER: {
    message: '{channel} provider failed ({code}: {reason})',
    hint: 'The provider is busy, out of service or answered something unexpected; retried with backoff when it may pass. See the stored attempts for the code.',
  },
  // ── cloud: escalation policies and duty rosters (cloud/escalation) ──────────────────────────
  CLOUD_ERR_ESCALATION_POLICY_CONFLICT: {
    message: 'escalation policy {id} version {version} differs from the stored one',
    hint: 'A changed policy needs a new version number: open cases keep the version they started with.',
  },
  CLOUD_ERR_ESCALATION_POLICY_UNKNOWN: {
    message: 'escalation policy {id} version {version} is not stored',
    hint: 'The case started under a policy version this database never stored; restore it in escalation.policies.',
  },
  // ── provisioning: the installer CLI (provisioning/) ─────────────────────────────────────────
  PROV_ERR_WORKSPACE: {
    message: 'no gateway workspace at {dir}: {reason}',
    hint: 'Run `doorstep provision init --dir DIR --gateway ID --site district/town/community` first, or pass the right --dir.',
  },
  PROV_ERR_EXISTS: {
    message: '{what} already exists at {path}',
    hint: 'Nothing was changed. Pass --force to replace it (the old identity is lost), or choose another directory.',
  },
  PROV_ERR_PORT_MISSING: {
    message: 'serial port {port} does not exist',
    hint: 'Plug in the USB–RS-485 adapter and use its stable name: ls -l /dev/serial/by-id/',
  },
  PROV_ERR_PORT_PERMISSION: {
    message: 'no permission to open serial port {port}: {reason}',
    hint: 'Add yourself to the dialout group (sudo usermod -aG dialout $USER, then log in again) or run as a user that may open the port.',
  },
  PROV_ERR_NOTHING_FOUND: {
    message: 'nothing answered on {port} ({settings}; unit ids {units})',
    hint: 'Check A/B wiring (swap them if unsure), termination, device power and address switches; widen --bauds/--parities/--units.',
  },
  PROV_ERR_DEVICE_FAULT: {
    message: '{device} reports {condition}',
    hint: 'The device answers but is not fit to hand over: clear the condition (silence/reset the detector, replace the battery) and commission again.',
  },
  PROV_ERR_NO_READING: {
    message: '{device} gave no complete reading within {timeoutMs} ms',
    hint: 'The device is slow or only partly answers: check the profile, poll intervals and line quality, then run commission again.',
  },
  PROV_ERR_NOT_POLLED: {
    message: '{device} is on a {busType} bus, which commission does not poll',
    hint: 'Wireless and MQTT sensors report on their own: check them with the running gateway (doorstep edge health, local MQTT).',
  },
  PROV_ERR_WALK_TIMEOUT: {
    message: '{device} was not triggered within {timeoutS} s ({action})',
    hint: 'Trigger the sensor again during the walk test, or check its wiring and location label; raise --walk-timeout for far-apart sensors.',
  },
  PROV_ERR_ENROLL_TOKEN: {
    message:
      '注册码无效：{url} 不认识此注册码 / the cloud at {url} does not know this enrolment token ({code})',
    hint: '核对注册码有无抄错（以 dse_ 开头，区分大小写），以及 --cloud 是否为签发它的区平台 / Check the token for typos (it starts with dse_, case matters) and that --cloud is the district that issued it.',
  },
  PROV_ERR_ENROLL_REFUSED: {
    message:
      '平台拒绝注册 {gateway} / the cloud at {url} refused to enrol {gateway} ({status} {code}): {reason}',
    hint: 'Nothing was enrolled and the token was not used: fix what the cloud names (its code is in docs/errors.md) and register again.',
  },
  PROV_ERR_CLOUD_UNREACHABLE: {
    message: 'cannot reach the cloud at {url}: {reason}',
    hint: 'register needs the network (everything else works offline): check the URL, the laptop link and any proxy.',
  },
  PROV_ERR_NOT_REGISTERED: {
    message: 'the configuration has an uplink but no credentials at {path}',
    hint: 'Run `doorstep provision register` first, or remove the uplink section to flash a gateway that runs on its own.',
  },
  PROV_ERR_BUILD_MISSING: {
    message: 'no built application at {app}: {reason}',
    hint: 'Run `npm run build` in the doorstep checkout (or pass --app with a built tree: package.json, bin/, dist/, node_modules/).',
  },
  PROV_ERR_DEPENDENCIES: {
    message: 'cannot list the production dependencies of {app}: {reason}',
    hint: 'Run `npm ci` in the checkout first; flash copies the installed node_modules minus dev dependencies.',
  },
  PROV_ERR_TARGET: {
    message: 'cannot write to target {target}: {reason}',
    hint: 'Mount the SD card (or create the directory), check it is writable and not full.',
  },
  PROV_ERR_IDENTITY_MISMATCH: {
    message: 'target {target} holds gateway {existing} (install {existingInstall}), not {gateway}',
    hint: 'This card belongs to another gateway: use a fresh card, or pass --force to overwrite its identity on purpose.',
  },
  PROV_ERR_VERIFY: {
    message: 'checksum mismatch on {target} after writing {file}',
    hint: 'The card is failing or full: replace it and flash again.',
  },
  PROV_ERR_ALARM_OPEN: {
    message: "{device}: the gateway's rules hold {alarms}",
    hint: 'The device reads, but the gateway would raise (or already holds) this alarm: fix the cause on site (pressure, door, gas …) or the rule override, then commission again.',
  },
  PROV_ERR_NOT_AT_REST: {
    message: '{device} was triggered ({point} = {value}) but not back at rest within {timeoutS} s',
    hint: 'Restore the sensor (close the door, put the cover back, close the test valve, silence the detector) and run the walk test again.',
  },
  PROV_ERR_ENROLL_EXPIRED: {
    message: '注册码已过期（{expiresAt}）/ the enrolment token expired at {expiresAt} (Asia/Shanghai)',
    hint: '请街镇分中心重新签发一个注册码 / Ask the town sub-centre for a new enrolment token for this community; nothing was enrolled.',
  },
  PROV_ERR_ENROLL_USED_UP: {
    message: '注册码已用完 / the enrolment token is used up: it enrolled every gateway it was issued for',
    hint: '请街镇分中心重新签发注册码；若本网关已注册过，无需再注册 / Ask for a new token; if this gateway was already enrolled, its credential is in gateway.secret and it needs none.',
  },
  PROV_ERR_ENROLL_SCOPE: {
    message: '站点 {site} 不在注册码的范围 {scope} 内 / site {site} lies outside the token scope {scope}',
    hint: '核对 gateway.yaml 中的 gateway.site，或申请本社区的注册码 / Check gateway.site in gateway.yaml, or ask for a token issued for this community; the token was not used.',
  },
  PROV_ERR_ENROLL_TAKEN: {
    message: '网关编号 {gateway} 已在平台注册 / gateway id {gateway} is already enrolled at {url}',
    hint: '同一编号不能注册两次：换一个编号（provision init --gateway），或请平台先吊销旧网关 / Pick another gateway id, or have the town revoke the old gateway first; the token was not used.',
  },
  PROV_ERR_ENROLL_SITE_UNKNOWN: {
    message: '社区 {site} 未在平台登记 / community {site} is not in the cloud site registry',
    hint: '请区平台先登记该社区，或核对 gateway.site 拼写 / Ask the district to register the community first, or check the spelling of gateway.site; the token was not used.',
  },
  PROV_ERR_HANDOVER_REFUSED: {
    message: 'handover of {gateway} refused: {count} device(s) not ready',
    hint: 'Fix what is listed and commission again, or hand over on purpose with --force --reason "…" (the reason is recorded in the signed handover record).',
  },
  // ── cloud: town and district console (cloud/console) ────────────────────────────────────────
  CLOUD_ERR_CONSOLE_ORIGIN: {
    message: 'refused {method} {url}: {reason}',
    hint: 'State-changing console requests must come from the console page itself (same Origin); open the console at its own address instead of posting from another site.',
  },
  CLOUD_ERR_SESSION_LIMIT: {
    message: 'too many live connections for {who} ({count}, limit {limit})',
    hint: 'Close other console tabs or windows of this account; each open board keeps one live connection.',
  },
  // ── cloud: action links and the phone page (cloud/phone) ─────────────────────────────────────
  CLOUD_ERR_LINK_INVALID: {
    message: 'action link refused: {reason}',
    hint: 'The link was changed, cut short or belongs to another case or cloud; open the newest message about the case, or sign in to the console.',
  },
  CLOUD_ERR_LINK_EXPIRED: {
    message: 'the action link for case {id} expired at {expiredAt}',
    hint: 'Links work for notify.links.ttlHours after their message; a later message about the case carries a fresh link, or act in the console.',
  },
  CLOUD_ERR_LINK_CLOSED: {
    message: 'case {id} is closed (办结); its action links no longer work',
    hint: 'Nothing is left to do on this case; its record is in the console.',
  },
  // ── edge: Node-RED as a supervised child process (edge/runtime/node-red.ts, flows/) ─────────
  EDGE_ERR_NODERED_CONFIG: {
    message: 'Node-RED not started: {reason}',
    hint: 'nodeRed.brokerUser must be listed in broker.users with a passwordHash matching nodeRed.brokerPassword, and the flows file must be readable (see flows/README.md).',
  },
  EDGE_ERR_NODERED_EXITED: {
    message: 'Node-RED exited ({reason}); restarting in {delayMs} ms',
    hint: 'Read the lines logged with component "node-red" before the exit; a flow that outgrows nodeRed.heapMb ends the process too.',
  },
  // ── edge: the gateway's own 4G modem, texts when the cloud is unreachable (edge/modem) ──────
  EDGE_ERR_MODEM_PORT: {
    message: 'modem port {port} unavailable: {reason}',
    hint: 'Check modem.port (prefer /dev/serial/by-id/…), that the modem is powered and enumerated (dmesg), and that no other program (ModemManager) holds the port.',
  },
  EDGE_ERR_MODEM_TIMEOUT: {
    message: 'modem on {port} did not answer {command} within {timeoutMs} ms',
    hint: 'The modem is hung, rebooting or on the wrong port or baud rate; an SMS submission can take tens of seconds on a weak network (modem.sendTimeoutMs).',
  },
  EDGE_ERR_MODEM_COMMAND: {
    message: 'modem on {port} refused {command}: {result}',
    hint: '+CME ERROR codes are listed in 3GPP TS 27.007 §9.2; a modem that refuses AT+CMGF=0 cannot send PDU-mode texts.',
  },
  EDGE_ERR_MODEM_SIM: {
    message: 'SIM on {port} not ready: {state}',
    hint: 'Insert the SIM, or set modem.pin when it asks for SIM PIN; SIM PUK needs the SIM in a phone first (never guess PINs: three wrong ones lock it).',
  },
  EDGE_ERR_MODEM_NETWORK: {
    message: 'modem on {port} not registered to a network ({registration})',
    hint: 'Check the antenna, signal (AT+CSQ) and that the SIM has service; 3 = registration denied by the operator.',
  },
  EDGE_ERR_MODEM_SMS: {
    message: 'text to {to} refused: +CMS ERROR {cms} ({meaning})',
    hint: '3GPP TS 27.005 §3.2.5: 300–500 are modem/SIM errors (330 SMSC address unknown: set it with AT+CSCA), below 256 are network causes (e.g. 21 rejected, 38 network out of order); the text is retried with backoff.',
  },
} as const satisfies Record<string, { message: string; hint: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export type ErrorDetails = Record<string, string | number | boolean | undefined>;

export function formatErrorMessage(code: ErrorCode, details: ErrorDetails = {}): string {
  return ERROR_CATALOGUE[code].message.replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = details[key];
    return value === undefined ? `{${key}}` : String(value);
  });
}

/** An error with a catalogue code. `details` are machine-readable; `message` is for people. */
export class DoorstepError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  constructor(code: ErrorCode, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(formatErrorMessage(code, details), options);
    this.name = 'DoorstepError';
    this.code = code;
    this.details = details;
  }
  get hint(): string {
    return ERROR_CATALOGUE[this.code].hint;
  }
  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isDoorstepError(error: unknown, code?: ErrorCode): error is DoorstepError {
  return error instanceof DoorstepError && (code === undefined || error.code === code);
}
