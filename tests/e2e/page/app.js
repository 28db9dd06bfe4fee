/*
 * vodgate end-to-end page for vod-js-sdk-v6 (dist build) in headless Chromium.
 *
 * Query parameters:
 *   sig      URL of the signature service (GET, "Authorization: Bearer <token>").
 *            The answer is JSON {signature} or {data:{signature}}, or plain text.
 *   token    bearer token for sig.
 *   result   harness URL; the page POSTs one JSON result there at the end.
 *   size     bytes of the generated file (default 2621440).
 *   name     media name without extension (default "e2e clip").
 *   marker   if set (pass|review|block|fail), the file starts with
 *            "VODGATE-REVIEW:<marker>\n" (the emulator's review rule).
 *   chunk    COS part size in bytes (default 1048576).
 *   resume   "1": cancel the first upload once its progress reaches cancelAt,
 *            then upload the same file again (the SDK resumes from localStorage).
 *            Parts then go one at a time with progress every 1 ms, so that the
 *            cancel point exists even on loopback.
 *   cancelAt progress fraction at which to cancel (default 0.3).
 *   race     "1": enableRaceRegion (PrepareUploadUGC + HEAD probes); default off.
 *   report   "1": allowReport (beacons to vodreport.qcloud.com); default off.
 *   sdk      URL of the SDK build (default ../node_modules/vod-js-sdk-v6/dist/vod-js-sdk-v6.js).
 *
 * Result body: {ok, fileId, videoUrl, data, error:{code,message}|null,
 *   getSignatureCalls, signatureErrors, resumed, cancelled, progress, ms, sdk}.
 */
(function () {
  'use strict';
  var q = new URLSearchParams(location.search);
  var started = Date.now();
  var state = {
    ok: false, fileId: null, videoUrl: null, data: null, error: null,
    getSignatureCalls: 0, signatureErrors: 0, resumed: false, cancelled: false,
    progress: 0, ms: 0, sdk: null
  };
  var logEl = document.getElementById('log');
  function log(s) { logEl.textContent += s + '\n'; }

  function num(name, dflt) {
    var v = q.get(name);
    if (v === null || v === '') return dflt;
    var n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error('bad number for ' + name);
    return Math.floor(n);
  }

  function report() {
    state.ms = Date.now() - started;
    var url = q.get('result');
    log('result ' + JSON.stringify(state));
    if (!url) return Promise.resolve();
    return fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(state)
    }).catch(function (e) { log('result post failed: ' + e); });
  }

  function getSignature() {
    state.getSignatureCalls++;
    var url = q.get('sig');
    if (!url) return Promise.reject(new Error('no sig parameter'));
    return fetch(url, {
      method: 'GET',
      headers: { 'Authorization': 'Bearer ' + (q.get('token') || '') },
      cache: 'no-store'
    }).then(function (r) {
      var ct = r.headers.get('content-type') || '';
      if (!r.ok) {
        state.signatureErrors++;
        return r.text().then(function (t) {
          throw new Error('signature service HTTP ' + r.status + ': ' + t.slice(0, 200));
        });
      }
      if (ct.indexOf('json') >= 0) {
        return r.json().then(function (j) {
          var s = j.signature || (j.data && j.data.signature);
          if (typeof s !== 'string' || !s) throw new Error('no signature in JSON answer');
          return s;
        });
      }
      return r.text().then(function (t) { return t.trim(); });
    });
  }

  /* Deterministic content: the optional marker, then a byte pattern, so that
   * the same parameters give the same part MD5s (resume compares them). */
  function makeFile(size, name, marker) {
    var bytes = new Uint8Array(size);
    for (var i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
    if (marker) {
      var m = new TextEncoder().encode('VODGATE-REVIEW:' + marker + '\n');
      bytes.set(m.subarray(0, Math.min(m.length, size)));
    }
    return new File([bytes], name + '.mp4', { type: 'video/mp4', lastModified: 0 });
  }

  function upload(tcVod, file, opts, onProgress) {
    var params = { mediaFile: file, chunkSize: opts.chunk, retryDelay: 200 };
    if (opts.resume) {
      params.chunkParallelLimit = 1;
      params.progressInterval = 1;
    }
    var uploader = tcVod.upload(params);
    uploader.on('media_progress', function (info) {
      state.progress = info.percent;
      if (onProgress) onProgress(info, uploader);
    });
    return { uploader: uploader, done: uploader.done() };
  }

  function run() {
    var Ctor = window.TcVod && (window.TcVod.default || window.TcVod);
    if (typeof Ctor !== 'function') throw new Error('TcVod not loaded');
    var opts = {
      size: num('size', 2621440),
      chunk: num('chunk', 1048576),
      name: q.get('name') || 'e2e clip',
      marker: q.get('marker') || '',
      resume: q.get('resume') === '1',
      cancelAt: Number(q.get('cancelAt') || '0.3')
    };
    var tcVod = new Ctor({
      getSignature: getSignature,
      allowReport: q.get('report') === '1',
      enableRaceRegion: q.get('race') === '1'
    });
    var file = makeFile(opts.size, opts.name, opts.marker);
    if (!opts.resume) {
      return upload(tcVod, file, opts).done;
    }
    /* Resume scenario: cancel once cancelAt of the bytes are up. */
    return new Promise(function (resolve, reject) {
      var first = upload(tcVod, file, opts, function (info, uploader) {
        if (!state.cancelled && info.percent >= opts.cancelAt && info.percent < 1) {
          state.cancelled = true;
          uploader.cancel();
          log('cancelled at ' + info.percent);
          setTimeout(function () {
            state.resumed = true;
            var again = makeFile(opts.size, opts.name, opts.marker);
            upload(tcVod, again, opts).done.then(resolve, reject);
          }, 300);
        }
      });
      first.done.then(function (d) {
        if (!state.cancelled) resolve(d); /* finished before any cancel point */
      }, function (e) {
        if (!state.cancelled) reject(e);
      });
    });
  }

  function start() {
    var src = q.get('sdk') || '../node_modules/vod-js-sdk-v6/dist/vod-js-sdk-v6.js';
    state.sdk = src;
    var s = document.createElement('script');
    s.src = src;
    s.onerror = function () {
      state.error = { code: 'sdk-load', message: 'could not load ' + src };
      report();
    };
    s.onload = function () {
      var p;
      try { p = run(); } catch (e) { p = Promise.reject(e); }
      p.then(function (data) {
        state.ok = true;
        state.data = data || null;
        state.fileId = data && data.fileId ? String(data.fileId) : null;
        state.videoUrl = data && data.video ? data.video.url : null;
      }, function (e) {
        state.error = {
          code: e && e.code !== undefined ? e.code : null,
          message: e && e.message ? String(e.message) : String(e)
        };
      }).then(report);
    };
    document.head.appendChild(s);
  }

  start();
})();
