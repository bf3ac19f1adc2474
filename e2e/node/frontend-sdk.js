// frontend-sdk.js drives the official frontend SDK (npm
// unleash-proxy-client) from Node, with Node's own fetch, against a running
// brink for the Go tests in e2e/.
//
//   NODE_PATH=.cache/sdk/node_modules node e2e/node/frontend-sdk.js CONFIG.json
//
// CONFIG: {url, token, appName, flags: [name], context, updates: [context],
// usePOST, timeoutMs}. After "ready" it records a snapshot (the SDK's
// context, its toggle list, isEnabled and getVariant of every flag), then
// one more per updateContext in updates, then sends metrics, and prints one
// JSON object on stdout. Every fetch the SDK makes is recorded (method,
// url, status).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { UnleashClient, InMemoryStorageProvider, EVENTS } = require('unleash-proxy-client');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const exchanges = [];
const out = {
  // The package's exports map hides package.json; read it beside the build.
  sdkVersion: JSON.parse(
    fs.readFileSync(path.join(path.dirname(require.resolve('unleash-proxy-client')), '..', 'package.json'), 'utf8'),
  ).version,
  phase: 'starting',
  snapshots: [],
  sent: [],
  errors: [],
  exchanges,
};

async function recordingFetch(url, opts = {}) {
  const rec = { method: opts.method || 'GET', url: String(url), status: 0 };
  exchanges.push(rec);
  try {
    const res = await fetch(url, opts);
    rec.status = res.status;
    return res;
  } catch (e) {
    rec.error = String((e && e.message) || e);
    throw e;
  }
}

let finished = false;
function finish(failure) {
  if (finished) return;
  finished = true;
  clearTimeout(deadline);
  if (failure) out.failure = failure;
  try {
    client.stop();
  } catch (e) {
    out.errors.push(`stop: ${e}`);
  }
  process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(failure ? 2 : 0));
}
const deadline = setTimeout(() => finish(`timed out in phase ${out.phase}`), cfg.timeoutMs || 30000);

const client = new UnleashClient({
  url: cfg.url,
  clientKey: cfg.token,
  appName: cfg.appName,
  context: cfg.context,
  fetch: recordingFetch,
  storageProvider: new InMemoryStorageProvider(),
  disableRefresh: true,
  metricsInterval: 3600,
  metricsIntervalInitial: 0,
  usePOSTrequests: !!cfg.usePOST,
});
client.on(EVENTS.ERROR, (e) => out.errors.push(JSON.stringify(e, Object.getOwnPropertyNames(e || {}))));
client.on(EVENTS.SENT, (payload) => out.sent.push(payload));

function snapshot() {
  const answers = {};
  for (const name of cfg.flags) {
    const enabled = client.isEnabled(name);
    const v = client.getVariant(name);
    answers[name] = {
      enabled,
      variant: {
        name: v.name,
        enabled: v.enabled,
        feature_enabled: v.feature_enabled,
        payload: v.payload === undefined ? null : v.payload,
      },
    };
  }
  out.snapshots.push({ context: client.getContext(), toggles: client.getAllToggles(), answers });
}

async function main() {
  out.phase = 'waiting for ready';
  const ready = new Promise((resolve) => client.once(EVENTS.READY, resolve));
  client.start();
  await ready;
  out.phase = 'evaluating';
  snapshot();
  for (const upd of cfg.updates || []) {
    out.phase = `updateContext ${JSON.stringify(upd)}`;
    await client.updateContext(upd);
    snapshot();
  }
  out.phase = 'sending metrics';
  await client.sendMetrics();
  finish();
}

main().catch((e) => finish(`exception: ${(e && e.stack) || e}`));
