// streaming-sdk.js runs the official Node server SDK (npm unleash-client)
// in one of its experimental live modes against a running brink, for
// e2e/streaming_sdk_test.go, and reports what the SDK sees as it happens.
//
//   NODE_PATH=.cache/sdk/node_modules node e2e/node/streaming-sdk.js CONFIG.json
//
// CONFIG: {url, token, appName, instanceId, mode: "streaming" | "delta",
// flags: [name], refreshMs, timeoutMs}. mode "streaming" is
// experimentalMode {type: 'streaming'} (GET /api/client/streaming, server-
// sent events); "delta" is {type: 'polling', format: 'delta'} (GET
// /api/client/delta every refreshMs). The SDK is otherwise unchanged:
// metrics are off, nothing else is configured.
//
// Output: one JSON object per line on stdout, as things happen, each with
// t (ms since start) and type:
//
//   start         {sdkVersion, mode}
//   request       {id, method, path, lastEventId, ifNoneMatch}: every HTTP
//                 request the SDK makes (node:http's request, which both its
//                 fetch and its EventSource use, is wrapped)
//   response      {id, status, etag}
//   requestError  {id, error}
//   sse           {event, lastEventId, events: [{eventId, type, name}]}:
//                 every unleash-connected / unleash-updated event the SDK's
//                 EventSource hands to the SDK
//   synchronized  the SDK's first "synchronized"
//   state         {state: {flag: "on" | "off" | "absent"}}: isEnabled of
//                 every flag in CONFIG.flags (with a fixed context), or
//                 "absent" when the SDK has no definition of it; printed at
//                 synchronized and whenever it changes afterwards
//   mode          {from, to}: the SDK switched between streaming and polling
//   warn, error   {message}
//   exit          {failure?}: the last line
//
// It runs until stdin says "quit" (or closes), or timeoutMs passes (then
// exit says so and the status is 2).
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const readline = require('node:readline');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const began = Date.now();

function emit(type, fields) {
  process.stdout.write(`${JSON.stringify({ t: Date.now() - began, type, ...fields })}\n`);
}

// Record every HTTP exchange. The SDK's fetch (minipass-fetch) and its
// EventSource (launchdarkly-eventsource) both call node:http's request.
let nextRequest = 0;
const origRequest = http.request;
http.request = function request(...args) {
  const req = origRequest.apply(this, args);
  const id = ++nextRequest;
  const rec = { id, method: req.method, path: req.path };
  const lastEventId = req.getHeader('last-event-id');
  if (lastEventId !== undefined) rec.lastEventId = String(lastEventId);
  const inm = req.getHeader('if-none-match');
  if (inm !== undefined) rec.ifNoneMatch = String(inm);
  emit('request', rec);
  req.on('response', (res) => {
    const r = { id, status: res.statusCode };
    if (res.headers.etag !== undefined) r.etag = String(res.headers.etag);
    emit('response', r);
  });
  req.on('error', (e) => emit('requestError', { id, error: String((e && e.message) || e) }));
  return req;
};

// Report the SSE events the SDK receives: wrap the listeners the SDK's
// streaming fetcher adds for them. unleash-client re-exports this class,
// so the patch must precede requiring it.
const { EventSource } = require('launchdarkly-eventsource');
const origAdd = EventSource.prototype.addEventListener;
EventSource.prototype.addEventListener = function addEventListener(type, listener) {
  if ((type === 'unleash-connected' || type === 'unleash-updated') && typeof listener === 'function') {
    const wrapped = function (event) {
      const rec = { event: type, lastEventId: event && event.lastEventId };
      try {
        rec.events = JSON.parse(event.data).events.map((e) => ({
          eventId: e.eventId,
          type: e.type,
          name: e.type === 'feature-removed' ? e.featureName : e.feature ? e.feature.name : undefined,
        }));
      } catch (e) {
        rec.parseError = String(e);
        rec.data = String(event && event.data).slice(0, 2000);
      }
      emit('sse', rec);
      return listener.apply(this, arguments);
    };
    return origAdd.call(this, type, wrapped);
  }
  return origAdd.call(this, type, listener);
};

const { Unleash, InMemStorageProvider } = require('unleash-client');

const experimentalMode =
  cfg.mode === 'delta' ? { type: 'polling', format: 'delta' } : { type: 'streaming' };
emit('start', { sdkVersion: require('unleash-client/package.json').version, mode: experimentalMode });

const unleash = new Unleash({
  url: cfg.url,
  appName: cfg.appName,
  instanceId: cfg.instanceId,
  customHeaders: { Authorization: cfg.token },
  refreshInterval: cfg.refreshMs || 1000,
  disableMetrics: true,
  storageProvider: new InMemStorageProvider(),
  skipInstanceCountWarning: true,
  experimentalMode,
});

unleash.on('warn', (m) => emit('warn', { message: String(m) }));
unleash.on('error', (e) => emit('error', { message: String((e && e.message) || e) }));
// Unleash does not pass its repository's "mode" event on; listen there.
if (unleash.repository && typeof unleash.repository.on === 'function') {
  unleash.repository.on('mode', (m) => emit('mode', m));
}

const context = { userId: 'streaming-e2e', sessionId: 's1' };
let synchronized = false;
let lastState = '';

function checkState() {
  if (!synchronized) return;
  const state = {};
  for (const name of cfg.flags) {
    if (!unleash.getFeatureToggleDefinition(name)) state[name] = 'absent';
    else state[name] = unleash.isEnabled(name, context) ? 'on' : 'off';
  }
  const s = JSON.stringify(state);
  if (s !== lastState) {
    lastState = s;
    emit('state', { state });
  }
}

unleash.once('synchronized', () => {
  synchronized = true;
  emit('synchronized', {});
  checkState();
});
unleash.on('changed', checkState);
// A change is also noticed without the event, within 20 ms.
const poll = setInterval(checkState, 20);

let finished = false;
function finish(failure) {
  if (finished) return;
  finished = true;
  clearInterval(poll);
  clearTimeout(deadline);
  try {
    unleash.destroy();
  } catch (e) {
    emit('error', { message: `destroy: ${e}` });
  }
  process.stdout.write(`${JSON.stringify({ t: Date.now() - began, type: 'exit', failure })}\n`, () =>
    process.exit(failure ? 2 : 0),
  );
}
const deadline = setTimeout(() => finish(`timed out after ${cfg.timeoutMs || 60000} ms`), cfg.timeoutMs || 60000);

readline
  .createInterface({ input: process.stdin })
  .on('line', (line) => {
    if (line.trim() === 'quit') finish();
  })
  .on('close', () => finish());
