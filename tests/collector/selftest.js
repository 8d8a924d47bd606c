#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The collector's own check: good payloads pass, broken ones fail, so that
// a green collector test means something. Run by ctest (collector.selftest).
'use strict';
const assert = require('assert');
const {loadOtlp, loadZipkin, validateOtlp, validateZipkin} = require('./collector.js');

const fs = require('fs');
const path = require('path');
if (!fs.existsSync(path.join(__dirname, '..', '..', '..', 'shared', 'schemas', 'zipkin'))) {
  console.log('skipped: ../shared/schemas is absent');
  process.exit(77);
}
const Req = loadOtlp();
const zipkin = loadZipkin();

function otlp(span) {
  return {resourceSpans: [{resource: {attributes: [{key: 'service.name', value: {stringValue: 'web.default'}}]},
                           scopeSpans: [{scope: {name: 'meshlib', version: '0.2.0'}, spans: [span]}]}]};
}
const goodSpan = () => ({traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7',
                         parentSpanId: '00f067aa0ba902b8', name: 'reviews.default.svc.cluster.local:9080/*', kind: 3,
                         startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000001000000',
                         attributes: [{key: 'http.method', value: {stringValue: 'GET'}}], status: {code: 0}});
const zspan = () => ({traceId: '4bf92f3577b34da6a3ce929d0e0e4736', id: '00f067aa0ba902b7', name: 'x', kind: 'CLIENT',
                      timestamp: 1700000000000000, duration: 1000, localEndpoint: {serviceName: 'web.default'},
                      remoteEndpoint: {ipv4: '127.0.0.1', port: 8080}, tags: {'http.method': 'GET'}});

let passed = 0, failed = 0;
function check(name, fn) {
  try { fn(); passed++; } catch (e) { failed++; console.log(`FAIL ${name}: ${e.message}`); }
}
function otlpOk(body) { const e = []; const ok = validateOtlp(Req, body, e, []); return {ok, e}; }
function zOk(body) { const e = []; const ok = validateZipkin(zipkin, body, e, []); return {ok, e}; }

check('otlp good', () => { const r = otlpOk(otlp(goodSpan())); assert.ok(r.ok, r.e.join('; ')); });
check('otlp root span without parent', () => { const s = goodSpan(); delete s.parentSpanId; assert.ok(otlpOk(otlp(s)).ok); });
check('otlp base64 id refused', () => { const s = goodSpan(); s.traceId = Buffer.from(s.traceId, 'hex').toString('base64'); assert.ok(!otlpOk(otlp(s)).ok); });
check('otlp upper-case id refused', () => { const s = goodSpan(); s.spanId = s.spanId.toUpperCase().replace('00F', '0AF'); assert.ok(!otlpOk(otlp(s)).ok); });
check('otlp zero trace id refused', () => { const s = goodSpan(); s.traceId = '0'.repeat(32); assert.ok(!otlpOk(otlp(s)).ok); });
check('otlp enum name refused', () => { const s = goodSpan(); s.kind = 'SPAN_KIND_CLIENT'; assert.ok(!otlpOk(otlp(s)).ok); });
check('otlp unknown field refused', () => { const s = goodSpan(); s.tags = {}; assert.ok(!otlpOk(otlp(s)).ok); });
check('otlp bad time refused', () => { const s = goodSpan(); s.startTimeUnixNano = '12ms'; assert.ok(!otlpOk(otlp(s)).ok); });
check('otlp end before start refused', () => { const s = goodSpan(); s.endTimeUnixNano = '1'; assert.ok(!otlpOk(otlp(s)).ok); });
check('otlp two oneof members refused', () => { const s = goodSpan(); s.attributes[0].value.intValue = '3'; assert.ok(!otlpOk(otlp(s)).ok); });
check('otlp no service.name refused', () => { const b = otlp(goodSpan()); b.resourceSpans[0].resource.attributes = []; assert.ok(!otlpOk(b).ok); });
check('zipkin good', () => { const r = zOk([zspan()]); assert.ok(r.ok, r.e.join('; ')); });
check('zipkin 64-bit trace id', () => { const s = zspan(); s.traceId = 'a3ce929d0e0e4736'; assert.ok(zOk([s]).ok); });
check('zipkin bad id refused', () => { const s = zspan(); s.id = 'xyz'; assert.ok(!zOk([s]).ok); });
check('zipkin bad kind refused', () => { const s = zspan(); s.kind = 'client'; assert.ok(!zOk([s]).ok); });
check('zipkin zero duration refused', () => { const s = zspan(); s.duration = 0; assert.ok(!zOk([s]).ok); });
check('zipkin tag number refused', () => { const s = zspan(); s.tags.x = 3; assert.ok(!zOk([s]).ok); });
check('zipkin bad ipv4 refused', () => { const s = zspan(); s.remoteEndpoint.ipv4 = '999.1.1.1'; assert.ok(!zOk([s]).ok); });
check('zipkin unknown field refused', () => { const s = zspan(); s.traceID = s.traceId; assert.ok(!zOk([s]).ok); });
check('zipkin not a list refused', () => { assert.ok(!zOk(zspan()).ok); });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
