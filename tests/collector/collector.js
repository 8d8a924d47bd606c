#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// A test collector for meshlib's span export, built on the published
// definitions in ../shared/schemas/ (no trace backend is packaged for
// Debian or npm):
//   POST /v1/traces     OTLP/HTTP JSON: the proto3 JSON mapping of
//                       ExportTraceServiceRequest (loaded with protobufjs),
//                       with OTLP's rules on top (ids as hex, enums as
//                       integers, 64-bit integers as decimal strings).
//   POST /api/v2/spans  Zipkin v2 JSON: ListOfSpans of zipkin2-api.yaml,
//                       checked with ajv (plus: no unknown fields).
//   GET  /verdict       {"otlp": {...}, "zipkin": {...}, "errors": [...]}
// It listens on 127.0.0.1 (port from --port, 0 by default) and prints
// "listening <port>" on stdout. On SIGTERM or SIGINT it prints the verdict
// and exits 1 if any payload was invalid, else 0.
'use strict';

const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const protobuf = require('protobufjs');
const Ajv = require('ajv');
const yaml = require('js-yaml');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const schemas = path.resolve(arg('--schemas', path.join(__dirname, '..', '..', '..', 'shared', 'schemas')));
const otelRoot = path.join(schemas, 'opentelemetry-proto');
const zipkinFile = path.join(schemas, 'zipkin', 'zipkin2-api.yaml');

// ---- OTLP ----

function loadOtlp() {
  const root = new protobuf.Root();
  // Imports are relative to the opentelemetry-proto folder.
  root.resolvePath = (origin, target) =>
    fs.existsSync(path.join(otelRoot, target)) ? path.join(otelRoot, target)
                                                : protobuf.util.path.resolve(origin, target);
  root.loadSync(path.join(otelRoot, 'opentelemetry/proto/collector/trace/v1/trace_service.proto'),
                {keepCase: false});
  root.resolveAll();
  return root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
}

const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const INT32 = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);
// OTLP's ids: hex strings, not base64 (protobufjs wants base64 bytes).
const HEX_IDS = {traceId: 32, spanId: 16, parentSpanId: 16};

// Walk |obj| as message |type|: every key must be a field (by its JSON name
// or its proto name), every value of the field's type. Fills |errors| and
// returns a copy that protobufjs' fromObject() accepts (hex ids as base64).
function checkMessage(type, obj, where, errors) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    errors.push(`${where}: expected an object for ${type.fullName}`);
    return {};
  }
  const out = {};
  const oneofsSeen = {};
  for (const key of Object.keys(obj)) {
    const field = type.fields[key] ||
                  Object.values(type.fields).find((f) => f.name === key || f.options && f.options.json_name === key);
    if (!field) {
      errors.push(`${where}.${key}: unknown field of ${type.fullName}`);
      continue;
    }
    if (field.partOf) {
      const o = field.partOf.name;
      if (oneofsSeen[o]) errors.push(`${where}: more than one member of oneof ${o}`);
      oneofsSeen[o] = true;
    }
    const v = obj[key];
    const w = `${where}.${key}`;
    if (field.repeated) {
      if (!Array.isArray(v)) { errors.push(`${w}: expected an array`); continue; }
      out[field.name] = v.map((x, i) => checkValue(field, x, `${w}[${i}]`, errors));
    } else if (field.map) {
      errors.push(`${w}: maps are not used by OTLP trace`);
    } else {
      out[field.name] = checkValue(field, v, w, errors);
    }
  }
  return out;
}

function checkValue(field, v, where, errors) {
  const t = field.resolvedType;
  if (t instanceof protobuf.Type) return checkMessage(t, v, where, errors);
  if (t instanceof protobuf.Enum) {
    // OTLP/JSON: "enum values MUST be encoded as integer values".
    if (!Number.isInteger(v) || !Object.values(t.values).includes(v))
      errors.push(`${where}: ${JSON.stringify(v)} is not an integer value of ${t.name}`);
    return v;
  }
  const name = field.name;
  if (field.type === 'bytes') {
    const want = HEX_IDS[name];
    if (want === undefined) { errors.push(`${where}: unexpected bytes field`); return ''; }
    if (name === 'parentSpanId' && v === '') return '';
    if (typeof v !== 'string' || !new RegExp(`^[0-9a-f]{${want}}$`).test(v) || /^0+$/.test(v)) {
      errors.push(`${where}: ${JSON.stringify(v)} is not ${want} lower-case hex digits (not all zero)`);
      return '';
    }
    return Buffer.from(v, 'hex').toString('base64');
  }
  if (INT64.has(field.type)) {
    const ok = (typeof v === 'string' && /^-?[0-9]+$/.test(v)) || Number.isSafeInteger(v);
    if (!ok) errors.push(`${where}: ${JSON.stringify(v)} is not a 64-bit integer (decimal string)`);
    if (ok && (field.type.startsWith('u') || field.type.startsWith('fixed'))) {
      if (String(v).startsWith('-')) errors.push(`${where}: negative value of ${field.type}`);
    }
    return v;
  }
  if (INT32.has(field.type)) {
    if (!Number.isInteger(v)) errors.push(`${where}: ${JSON.stringify(v)} is not an integer`);
    return v;
  }
  if (field.type === 'string') {
    if (typeof v !== 'string') errors.push(`${where}: ${JSON.stringify(v)} is not a string`);
    return v;
  }
  if (field.type === 'bool') {
    if (typeof v !== 'boolean') errors.push(`${where}: ${JSON.stringify(v)} is not a boolean`);
    return v;
  }
  if (field.type === 'double' || field.type === 'float') {
    if (typeof v !== 'number') errors.push(`${where}: ${JSON.stringify(v)} is not a number`);
    return v;
  }
  errors.push(`${where}: unhandled type ${field.type}`);
  return v;
}

function validateOtlp(Req, body, errors, seen) {
  const before = errors.length;
  const local = [];
  const plain = checkMessage(Req, body, 'otlp', local);
  // Then protobufjs itself: build the message, verify it and round-trip it
  // through the wire format.
  try {
    const msg = Req.fromObject(plain);
    const bad = Req.verify(msg);
    if (bad) local.push(`otlp: verify: ${bad}`);
    const back = Req.decode(Req.encode(msg).finish());
    let n = 0;
    for (const rs of back.resourceSpans || []) {
      const svc = ((rs.resource || {}).attributes || []).find((a) => a.key === 'service.name');
      if (!svc) local.push('otlp: a resource without service.name');
      for (const ss of rs.scopeSpans || []) {
        for (const s of ss.spans || []) {
          n++;
          if (!s.name) local.push('otlp: a span without a name');
          const start = BigInt(s.startTimeUnixNano.toString());
          const end = BigInt(s.endTimeUnixNano.toString());
          if (start <= 0n || end < start) local.push(`otlp: span ${Buffer.from(s.spanId).toString('hex')}: bad times`);
          seen.push({traceId: Buffer.from(s.traceId).toString('hex'),
                     spanId: Buffer.from(s.spanId).toString('hex'),
                     parentSpanId: Buffer.from(s.parentSpanId || []).toString('hex'),
                     name: s.name,
                     attributes: Object.fromEntries((s.attributes || []).map((a) => [a.key, a.value.stringValue]))});
        }
      }
    }
    if (n === 0) local.push('otlp: no spans');
  } catch (e) {
    local.push(`otlp: protobufjs: ${e.message}`);
  }
  errors.push(...local);
  return errors.length === before;
}

// ---- Zipkin ----

function loadZipkin() {
  const doc = yaml.load(fs.readFileSync(zipkinFile, 'utf8'));
  const defs = JSON.parse(JSON.stringify(doc.definitions));
  // Stricter than Zipkin's server, which ignores unknown keys: a field
  // meshlib misspells should fail here.
  for (const name of ['Span', 'Endpoint', 'Annotation'])
    if (defs[name]) defs[name].additionalProperties = false;
  const ajv = new Ajv({strict: false, allErrors: true});
  ajv.addFormat('int64', {type: 'number', validate: Number.isSafeInteger});
  ajv.addFormat('ipv4', (s) => net.isIPv4(s));
  ajv.addFormat('ipv6', (s) => net.isIPv6(s));
  return ajv.compile({$ref: '#/definitions/ListOfSpans', definitions: defs});
}

function validateZipkin(check, body, errors, seen) {
  if (!check(body)) {
    for (const e of check.errors) errors.push(`zipkin${e.instancePath}: ${e.message}`);
    return false;
  }
  if (!body.length) { errors.push('zipkin: no spans'); return false; }
  for (const s of body) seen.push(s);
  return true;
}

// ---- Server ----

function main() {
  const Req = loadOtlp();
  const zipkinCheck = loadZipkin();
  const state = {otlp: {posts: 0, spans: []}, zipkin: {posts: 0, spans: []}, errors: []};
  const verdict = () => ({
    otlp: {posts: state.otlp.posts, spans: state.otlp.spans.length},
    zipkin: {posts: state.zipkin.posts, spans: state.zipkin.spans.length},
    errors: state.errors,
    otlp_spans: state.otlp.spans,
    zipkin_spans: state.zipkin.spans,
  });
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = req.url.split('?')[0];
      if (req.method === 'GET' && url === '/verdict') {
        res.writeHead(200, {'content-type': 'application/json'});
        res.end(JSON.stringify(verdict()));
        return;
      }
      const kind = url === '/v1/traces' ? 'otlp' : url === '/api/v2/spans' ? 'zipkin' : null;
      if (req.method !== 'POST' || !kind) {
        res.writeHead(404);
        res.end();
        return;
      }
      state[kind].posts++;
      let body;
      try {
        if (!/^application\/json\b/.test(req.headers['content-type'] || ''))
          throw new Error(`content-type ${req.headers['content-type']}`);
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        state.errors.push(`${kind}: not JSON: ${e.message}`);
        res.writeHead(400);
        res.end();
        return;
      }
      const ok = kind === 'otlp' ? validateOtlp(Req, body, state.errors, state.otlp.spans)
                                 : validateZipkin(zipkinCheck, body, state.errors, state.zipkin.spans);
      res.writeHead(ok ? 200 : 400, {'content-type': 'application/json'});
      res.end(kind === 'otlp' ? '{}' : '');
    });
  });
  server.listen(Number(arg('--port', '0')), '127.0.0.1', () => {
    process.stdout.write(`listening ${server.address().port}\n`);
  });
  const stop = () => {
    const v = verdict();
    process.stdout.write(JSON.stringify({otlp: v.otlp, zipkin: v.zipkin, errors: v.errors}) + '\n');
    server.close();
    process.exit(v.errors.length ? 1 : 0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) main();
module.exports = {loadOtlp, loadZipkin, validateOtlp, validateZipkin};
