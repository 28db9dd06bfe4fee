#!/usr/bin/env node
/*
 * PullEvents / ConfirmEvents with the official API 3.0 Node SDK
 * (tencentcloud-sdk-nodejs-vod), pointed at an emulator.
 *
 * Environment:
 *   VOD_ENDPOINT    host[:port] of the emulator's API 3.0 listener (required),
 *                   e.g. 127.0.0.1:18081. The SDK then signs the credential
 *                   scope service "127" and host "127.0.0.1" (no port):
 *                   upload-protocol.md section 4.
 *   VOD_PROTOCOL    "http://" (default) or "https://".
 *   VOD_SECRET_ID, VOD_SECRET_KEY   API credential (required).
 *   VOD_REGION      default "ap-guangzhou".
 *   VOD_SUBAPPID    optional SubAppId.
 *   PULL_ROUNDS     pull rounds (default 1); PULL_CONFIRM "0" to skip confirming.
 *
 * Prints one JSON line per round to stdout:
 *   {"round":N,"events":[{EventHandle,EventType,...}],"confirmed":[handles]}
 * and exits 0, or prints {"error":{code,message,requestId}} and exits 1.
 */
'use strict';
const vod = require('tencentcloud-sdk-nodejs-vod');

function need(name) {
  const v = process.env[name];
  if (!v) {
    process.stderr.write(`pull_client: ${name} is not set\n`);
    process.exit(2);
  }
  return v;
}

async function main() {
  const client = new vod.vod.v20180717.Client({
    credential: { secretId: need('VOD_SECRET_ID'), secretKey: need('VOD_SECRET_KEY') },
    region: process.env.VOD_REGION || 'ap-guangzhou',
    profile: {
      httpProfile: {
        endpoint: need('VOD_ENDPOINT'),
        protocol: process.env.VOD_PROTOCOL || 'http://',
        reqTimeout: 30,
      },
    },
  });
  const rounds = Number(process.env.PULL_ROUNDS || '1');
  const confirm = process.env.PULL_CONFIRM !== '0';
  const sub = process.env.VOD_SUBAPPID ? Number(process.env.VOD_SUBAPPID) : undefined;
  for (let round = 1; round <= rounds; round++) {
    const pulled = await client.PullEvents(sub ? { SubAppId: sub } : {});
    const events = pulled.EventSet || [];
    const handles = events.map((e) => e.EventHandle);
    if (confirm && handles.length) {
      await client.ConfirmEvents(sub ? { EventHandles: handles, SubAppId: sub } : { EventHandles: handles });
    }
    process.stdout.write(JSON.stringify({ round, events, confirmed: confirm ? handles : [] }) + '\n');
  }
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({
    error: { code: e.code || null, message: e.message || String(e), requestId: e.requestId || null },
  }) + '\n');
  process.exit(1);
});
