// An independent implementation of the VOD upload signature, written the way
// Tencent's official Node.js sample computes it (spec tencent-vod.md 1.4):
// querystring.stringify over an object in insertion order, crypto HMAC-SHA1,
// and Buffer.concat([hmac, original]).toString("base64"). (The sample's
// deprecated `new Buffer` is Buffer.from here; same bytes.)
//
// Batch protocol, so that one process serves hundreds of cases:
//   stdin  {"mode": "sign",   "cases": [{"key": K, "params": [[k, v], ...]}]}
//          {"mode": "verify", "cases": [{"key": K, "signature": S}]}
//   stdout a JSON array, one result per case:
//          sign   -> {"signature": S, "original": O}
//          verify -> {"ok": bool, "original": O, "params": {k: v}}
'use strict';
const querystring = require('querystring');
const crypto = require('crypto');

function sign(c) {
  const argList = {};
  for (const [k, v] of c.params) argList[k] = v;
  const original = querystring.stringify(argList);
  const originalBuffer = Buffer.from(original, 'utf8');
  const hmac = crypto.createHmac('sha1', c.key);
  const hmacBuffer = hmac.update(originalBuffer).digest();
  const signature = Buffer.concat([hmacBuffer, originalBuffer]).toString('base64');
  return {signature, original};
}

function verify(c) {
  const raw = Buffer.from(c.signature, 'base64');
  if (raw.length <= 20) return {ok: false, original: '', params: {}};
  const mac = raw.subarray(0, 20);
  const original = raw.subarray(20);
  const expect = crypto.createHmac('sha1', c.key).update(original).digest();
  const ok = crypto.timingSafeEqual(mac, expect);
  const text = original.toString('utf8');
  return {ok, original: text, params: Object.assign({}, querystring.parse(text))};
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const req = JSON.parse(input);
  const fn = req.mode === 'sign' ? sign : verify;
  process.stdout.write(JSON.stringify(req.cases.map(fn)));
});
