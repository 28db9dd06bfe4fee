"""Cross-checks of `vodgate sign` / `vodgate inspect` against independent
implementations, in both directions, over a few hundred generated parameter
sets (Unicode, every reserved character, empty values, unknown keys):

- Node, written like Tencent's official sample (tests/crosscheck/node_sign.js:
  querystring.stringify + crypto HMAC-SHA1 + Buffer.concat base64);
- Python's hmac/base64/urllib: urlencode (quote_plus), urlencode with
  quote_via=quote (%20), Go's url.Values.Encode (sorted keys, quote_plus),
  and PHP's http_build_query (quote_plus with ~ as %7E).

theirs -> ours: `vodgate inspect` verifies the MAC and decodes the same
params. ours -> theirs: each of them verifies our MAC and parses the same
params. Node is required: if it is missing this test fails (CI installs
nodejs)."""
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import random
import shutil
import subprocess
import unittest
import urllib.parse

import vgtest

N_SETS = int(os.environ.get("VG_CROSSCHECK_SETS", "300"))
NODE_SCRIPT = os.path.join(vgtest.SRC, "tests", "crosscheck", "node_sign.js")
RESERVED = " ~*'()!@#$&=+/?:;,\"%[]{}<>|\\^`\t\n"
UNICODE = ["中文", "é", "😀", "Ω", "ß", "\u00a0", "日本語テキスト", "𝄞", "\u200b"]
REGIONS = ["ap-chongqing", "ap-guangzhou", "ap-shanghai", "na-ashburn", "eu-frankfurt"]


def find_node():
    return shutil.which("node") or ("/usr/bin/node" if os.path.exists("/usr/bin/node") else None)


def text(rng, max_chars):
    """A string mixing ASCII, every reserved character and Unicode."""
    out = []
    for _ in range(rng.randint(1, max_chars)):
        r = rng.random()
        if r < 0.4:
            out.append(rng.choice("abcXYZ019-._"))
        elif r < 0.75:
            out.append(rng.choice(RESERVED))
        else:
            out.append(rng.choice(UNICODE))
    s = "".join(out)
    return s


def clip_chars(s, n):
    return s[:n]


def gen_set(rng, i):
    """One parameter set: ordered (key, value) string pairs that vodgate sign
    can also produce (flags) plus how to pass them."""
    now = 1700000000 + i * 37
    validity = rng.choice([1, 600, 3600, 86400, 7776000, rng.randint(1, 7776000)])
    sid = "AKID" + "".join(rng.choice("ABCDEFGHabcdefgh0123456789") for _ in range(32))
    if i % 10 == 0:
        sid += text(rng, 6)  # exercise encoding of the id itself
    params = [("secretId", sid), ("currentTimeStamp", str(now)),
              ("expireTime", str(now + validity)),
              ("random", str(rng.choice([0, 4294967295, rng.randint(0, 4294967295)])))]
    opt = []
    if rng.random() < 0.5:
        opt.append(("classId", str(rng.randint(0, 2**31))))
    if rng.random() < 0.7:
        opt.append(("procedure", clip_chars(text(rng, 20), 40)))
    if rng.random() < 0.5:
        opt.append(("taskPriority", str(rng.randint(-10, 10))))
    if rng.random() < 0.5:
        opt.append(("taskNotifyMode", rng.choice(["Finish", "Change", "None"])))
    if rng.random() < 0.9:
        opt.append(("sourceContext", clip_chars(text(rng, 250), 250)))
    if rng.random() < 0.5:
        opt.append(("oneTimeValid", rng.choice(["0", "1"])))
    if rng.random() < 0.5:
        opt.append(("vodSubAppId", str(rng.randint(0, 2**40))))
    if rng.random() < 0.6:
        opt.append(("sessionContext", clip_chars(text(rng, 400), 1000)))
    if rng.random() < 0.3:
        opt.append(("storageRegion", rng.choice(REGIONS)))
    key = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                  for _ in range(32))
    if i % 7 == 0:
        key += "é中"
    return {"key": key, "params": params + opt, "now": str(now + rng.randint(0, validity - 1))}


FLAG = {"secretId": "--secret-id", "currentTimeStamp": "--now", "random": "--random",
        "classId": "--class-id", "procedure": "--procedure", "taskPriority": "--task-priority",
        "taskNotifyMode": "--task-notify-mode", "sourceContext": "--source-context",
        "vodSubAppId": "--sub-app-id", "sessionContext": "--session-context",
        "storageRegion": "--storage-region", "expireTime": "--expire-time"}


def sign_args(params):
    args = ["sign", "--json"]
    for k, v in params:
        if k == "oneTimeValid":
            if v != "1":
                continue
            args.append("--one-time")
        else:
            args += [FLAG[k], v]
    return args


# Python encoders of spec 1.3.
def enc_urlencode(params):
    return urllib.parse.urlencode(params)


def enc_quote(params):
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def enc_go(params):
    return urllib.parse.urlencode(sorted(params))


def enc_php(params):
    return "&".join(urllib.parse.quote_plus(k, safe="") + "=" +
                    urllib.parse.quote_plus(v, safe="").replace("~", "%7E") for k, v in params)


PY_ENCODERS = {"urlencode": enc_urlencode, "quote_via_quote": enc_quote, "go_sorted": enc_go,
               "php_http_build_query": enc_php}


def py_sign(key, original):
    o = original.encode("utf-8")
    return base64.b64encode(hmac.new(key.encode("utf-8"), o, hashlib.sha1).digest() + o).decode()


def py_verify(key, sig):
    raw = base64.b64decode(sig, validate=True)
    mac, o = raw[:20], raw[20:]
    ok = hmac.compare_digest(mac, hmac.new(key.encode("utf-8"), o, hashlib.sha1).digest())
    pairs = urllib.parse.parse_qsl(o.decode("utf-8"), keep_blank_values=True,
                                   strict_parsing=True, errors="strict")
    return ok, dict(pairs), len(pairs)


def inspect(sig, key, now):
    p = vgtest.run(["inspect", "--json", "--now", now, "-"], input=sig,
                   env={"VODGATE_VOD_SECRET_KEY": key})
    return p.returncode, json.loads(p.stdout)


def node(mode, cases):
    exe = find_node()
    if not exe:
        raise AssertionError("node is required for the cross-check (apt-get install nodejs)")
    p = subprocess.run([exe, NODE_SCRIPT], input=json.dumps({"mode": mode, "cases": cases}),
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"node failed: {p.stderr}")
    return json.loads(p.stdout)


def pmap(fn, items):
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        return list(ex.map(fn, items))


class CrossCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rng = random.Random(20261128)
        cls.sets = [gen_set(rng, i) for i in range(N_SETS)]

    def test_node_is_present(self):
        self.assertIsNotNone(find_node(), "node is required (CI installs nodejs)")

    def test_generated_sets_cover_every_reserved_char_and_unicode(self):
        values = "".join(v for s in self.sets for _, v in s["params"])
        for c in RESERVED + "".join(UNICODE):
            self.assertIn(c, values)

    def test_node_signs_vodgate_verifies(self):
        out = node("sign", [{"key": s["key"], "params": s["params"]} for s in self.sets])
        self.assertEqual(len(out), len(self.sets))

        def check(pair):
            s, o = pair
            rc, j = inspect(o["signature"], s["key"], s["now"])
            return rc, j, s, o
        for rc, j, s, o in pmap(check, zip(self.sets, out)):
            self.assertEqual((rc, j["valid"], j["reason"]), (0, True, None), o["original"])
            self.assertEqual(j["original"], o["original"])
            self.assertEqual(j["params"], dict(s["params"]))
            # Node's style is the one we recommend: nothing to warn about.
            self.assertEqual([w["code"] for w in j["warnings"]
                              if w["code"] not in ("unused_param",)], [], o["original"])

    def test_python_encoders_sign_vodgate_verifies(self):
        jobs = []
        for i, s in enumerate(self.sets):
            for name, enc in PY_ENCODERS.items():
                jobs.append((name, s, enc(s["params"])))

        def check(job):
            name, s, original = job
            rc, j = inspect(py_sign(s["key"], original), s["key"], s["now"])
            return name, s, original, rc, j
        for name, s, original, rc, j in pmap(check, jobs):
            self.assertEqual((rc, j["reason"]), (0, None), f"{name}: {original}")
            self.assertEqual(j["params"], dict(s["params"]), f"{name}: {original}")
            self.assertEqual(j["original"], original)

    def test_empty_values_and_unknown_keys_from_node(self):
        # The xiaoshipin server sends procedure=&... and a PHP app adds
        # notifyMode: both verify, with warnings.
        cases = [{"key": s["key"], "params": s["params"][:4] +
                  [["procedure", ""], ["notifyMode", "Finish"], ["isTranscode", "1"]]}
                 for s in self.sets[:20]]
        out = node("sign", cases)
        for s, o in zip(self.sets[:20], out):
            rc, j = inspect(o["signature"], s["key"], s["now"])
            self.assertEqual((rc, j["reason"]), (0, None))
            self.assertEqual(j["params"]["procedure"], "")
            codes = {w["code"] for w in j["warnings"]}
            self.assertEqual(codes, {"empty_value", "unknown_param"})

    def _ours(self):
        def run(s):
            p = vgtest.run(sign_args(s["params"]), env={"VODGATE_VOD_SECRET_KEY": s["key"]})
            return s, p
        res = []
        for s, p in pmap(run, self.sets):
            self.assertEqual(p.returncode, 0, p.stderr)
            res.append((s, json.loads(p.stdout)))
        return res

    @staticmethod
    def _expected(s):
        # vodgate emits oneTimeValid only as --one-time (=1).
        return {k: v for k, v in s["params"] if not (k == "oneTimeValid" and v != "1")}

    def test_vodgate_signs_python_verifies(self):
        for s, out in self._ours():
            ok, params, n = py_verify(s["key"], out["signature"])
            self.assertTrue(ok, out["original"])
            self.assertEqual(params, self._expected(s))
            self.assertEqual(n, len(params))  # no duplicate keys
            # Our original is RFC 3986: exactly Python's quote with safe="~".
            self.assertEqual(out["original"], "&".join(
                k + "=" + urllib.parse.quote(v, safe="~") for k, v in self._expected(s).items()))

    def test_vodgate_signs_node_verifies(self):
        ours = self._ours()
        res = node("verify", [{"key": s["key"], "signature": o["signature"]} for s, o in ours])
        for (s, o), r in zip(ours, res):
            self.assertTrue(r["ok"], o["original"])
            self.assertEqual(r["original"], o["original"])
            self.assertEqual(r["params"], self._expected(s))

    def test_node_rejects_a_wrong_key(self):
        # The Node verifier is not a rubber stamp.
        s, o = self._ours()[0]
        res = node("verify", [{"key": s["key"] + "x", "signature": o["signature"]}])
        self.assertFalse(res[0]["ok"])


if __name__ == "__main__":
    vgtest.main()
