'use strict';
// Reference peer for the signature benchmark: Tencent's official Node.js
// signature-distribution sample ("签名派发服务实现示例", spec tencent-vod.md
// 1.3/1.4) served by Express 4, single process, no authentication, as the
// sample is. It is deliberately NOT improved: querystring.stringify, the
// deprecated `new Buffer`, crypto HMAC-SHA1, Buffer.concat, base64,
// random = Math.round(Math.random() * 2^32) and 86400 s validity are the
// sample's choices and what an app copied from the docs runs in production.
//
// Usage: node express-sign.js PORT   (or env PORT); binds 127.0.0.1 only.
// Keys from env VOD_SECRET_ID / VOD_SECRET_KEY (bench-only dummies by default).

const querystring = require('querystring');
const crypto = require('crypto');
const express = require('express');

// The sample calls this object gVodHelper; its conf carries the API key pair.
class Signature {
  constructor(conf) {
    this.conf = conf;
  }

  // Same parameters, defaults and steps as the docs' createFileUploadSignature.
  createFileUploadSignature({ timeStamp = 86400, procedure = '', classId = 0, oneTimeValid = 0, sourceContext = '' }) {
    const current = parseInt(new Date().getTime() / 1000);
    const expired = current + timeStamp; // validity: 1 day, as in the sample
    const argList = {
      secretId: this.conf.SecretId,
      currentTimeStamp: current,
      expireTime: expired,
      random: Math.round(Math.random() * Math.pow(2, 32)),
      procedure,
      classId,
      oneTimeValid,
      sourceContext,
    };
    const original = querystring.stringify(argList);
    // eslint-disable-next-line n/no-deprecated-api -- the sample uses it
    const originalBuffer = new Buffer(original, 'utf8');
    const hmac = crypto.createHmac('sha1', this.conf.SecretKey);
    const hmacBuffer = hmac.update(originalBuffer).digest();
    return Buffer.concat([hmacBuffer, originalBuffer]).toString('base64');
  }
}

const gVodHelper = new Signature({
  SecretId: process.env.VOD_SECRET_ID || 'AKIDbenchbenchbenchbenchbenchbench00',
  SecretKey: process.env.VOD_SECRET_KEY || 'bench-secret-key-not-a-real-one',
});

// The sample's handler, verbatim in behaviour: same envelope as vodgate's
// success answer (vodgate adds uploadId and expireTime).
function getUploadSignature(req, res) {
  res.json({
    code: 0,
    message: 'ok',
    data: {
      signature: gVodHelper.createFileUploadSignature({}),
    },
  });
}

const app = express();
// No body parser: the sample's handler ignores the body, and the docs show
// none (this is the most favourable set-up for Express). Node still reads the
// small JSON body the benchmark POSTs to every server.
app.all('/v1/upload-signatures', getUploadSignature);
app.all('/getUploadSignature', getUploadSignature);

const port = parseInt(process.argv[2] || process.env.PORT || '0', 10);
const server = app.listen(port, '127.0.0.1', () => {
  // Same readiness line shape as vodgate's, so the driver reads either.
  process.stderr.write(JSON.stringify({ msg: 'listening', port: server.address().port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
