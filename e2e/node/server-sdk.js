// server-sdk.js drives the official Node server SDK (npm unleash-client)
// against a running brink for the Go tests in e2e/. Unchanged SDK, ordinary
// configuration: it polls /api/client/features, registers, sends metrics.
//
//   NODE_PATH=.cache/sdk/node_modules node e2e/node/server-sdk.js CONFIG.json
//
// CONFIG: {url, token, appName, instanceId, flags: [name], contexts: [ctx],
// refreshMs, metricsMs, minFeatureFetches, timeoutMs}. It waits for the
// SDK's "synchronized" event, evaluates isEnabled and getVariant for every
// flag in every context (synchronously, so that one metrics bucket holds
// every count), then waits for the SDK's registration, for a non-empty
// metrics post and for minFeatureFetches polls, and prints one JSON object
// on stdout. Every HTTP exchange the SDK makes is recorded (method, path,
// status) by wrapping node:http's request, which the SDK's fetch calls.
'use strict';

const fs = require('node:fs');
const http = require('node:http');

const exchanges = [];
const origRequest = http.request;
http.request = function request(...args) {
  const req = origRequest.apply(this, args);
  const rec = { method: req.method, path: req.path, status: 0 };
  const inm = req.getHeader('if-none-match');
  if (inm) rec.ifNoneMatch = String(inm);
  exchanges.push(rec);
  req.on('response', (res) => {
    rec.status = res.statusCode;
  });
  req.on('error', (e) => {
    rec.error = String((e && e.message) || e);
  });
  return req;
};

const { Unleash, InMemStorageProvider } = require('unleash-client');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = {
  sdkVersion: require('unleash-client/package.json').version,
  phase: 'starting',
  synchronized: false,
  registered: false,
  definitions: [],
  results: [],
  sent: [],
  warnings: [],
  errors: [],
  exchanges,
};
let evaluated = false;
let finished = false;

function finish(failure) {
  if (finished) return;
  finished = true;
  clearTimeout(deadline);
  clearInterval(poll);
  if (failure) out.failure = failure;
  try {
    unleash.destroy();
  } catch (e) {
    out.errors.push(`destroy: ${e}`);
  }
  process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(failure ? 2 : 0));
}

const deadline = setTimeout(() => finish(`timed out in phase ${out.phase}`), cfg.timeoutMs || 30000);

const unleash = new Unleash({
  url: cfg.url,
  appName: cfg.appName,
  instanceId: cfg.instanceId,
  customHeaders: { Authorization: cfg.token },
  refreshInterval: cfg.refreshMs || 1000,
  metricsInterval: cfg.metricsMs || 1000,
  disableMetrics: false,
  storageProvider: new InMemStorageProvider(),
  skipInstanceCountWarning: true,
});

unleash.on('warn', (m) => out.warnings.push(String(m)));
unleash.on('error', (e) => out.errors.push(String((e && e.message) || e)));
unleash.on('registered', () => {
  out.registered = true;
});
unleash.on('sent', (payload) => {
  out.sent.push(payload);
});

function featureFetches() {
  return exchanges.filter((x) => x.method === 'GET' && x.path.startsWith('/api/client/features') && x.status > 0)
    .length;
}

function done() {
  return (
    evaluated &&
    out.registered &&
    out.sent.some((p) => Object.keys(p.bucket.toggles).length > 0) &&
    featureFetches() >= (cfg.minFeatureFetches || 1)
  );
}

const poll = setInterval(() => {
  if (done()) finish();
}, 50);

unleash.once('synchronized', () => {
  out.synchronized = true;
  out.phase = 'evaluating';
  out.definitions = unleash.getFeatureToggleDefinitions().map((f) => f.name);
  for (const ctx of cfg.contexts) {
    const answers = {};
    for (const name of cfg.flags) {
      const enabled = unleash.isEnabled(name, ctx);
      const v = unleash.getVariant(name, ctx);
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
    out.results.push(answers);
  }
  evaluated = true;
  out.phase = 'waiting for registration, metrics and polls';
});
