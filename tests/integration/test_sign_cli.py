"""`vodgate sign` and `vodgate inspect` through the real binary: output
shapes, exit codes, secrets never from argv, the spec's V2 vectors."""
import base64
import hashlib
import hmac
import json
import subprocess
import time
import os
import unittest

import vgtest

ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
NOW = "1551113100"
V1 = ("O2M6rhoeqKbb/KQsxcgEu//HBAdzZWNyZXRJZD1BS0lEejhrcmJzSjV5S0JaUXBuNzRXRmttTFB4M0VYQU1QTEUmY3Vyc"
      "mVudFRpbWVTdGFtcD0xNTUxMTEzMDY1JmV4cGlyZVRpbWU9MTU1MTE5OTQ2NSZyYW5kb209MTIzNDU2Nzg5MA==")
V2_NODE = ("uwxTKBZ4nptVIRniZPCWA63o7uZzZWNyZXRJZD1BS0lEejhrcmJzSjV5S0JaUXBuNzRXRmttTFB4M0VYQU1QTEUmY3Vyc"
           "mVudFRpbWVTdGFtcD0xNTUxMTEzMDY1JmV4cGlyZVRpbWU9MTU1MTE5OTQ2NSZyYW5kb209MTIzNDU2Nzg5MCZwcm9jZW"
           "R1cmU9TG9uZ1ZpZGVvUHJlc2V0JnRhc2tQcmlvcml0eT0wJnRhc2tOb3RpZnlNb2RlPUZpbmlzaCZzb3VyY2VDb250ZXh"
           "0PSU3QiUyMnVpZCUyMiUzQSUyMnUlMjAxJTIyJTdEJm9uZVRpbWVWYWxpZD0xJnZvZFN1YkFwcElkPTE1MDAwMDAwMDE=")
V2_PHP = ("/H8w8ULJf115RqLXu8gwm45cs8hzZWNyZXRJZD1BS0lEejhrcmJzSjV5S0JaUXBuNzRXRmttTFB4M0VYQU1QTEUmY3Vyc"
          "mVudFRpbWVTdGFtcD0xNTUxMTEzMDY1JmV4cGlyZVRpbWU9MTU1MTE5OTQ2NSZyYW5kb209MTIzNDU2Nzg5MCZwcm9jZW"
          "R1cmU9TG9uZ1ZpZGVvUHJlc2V0JnRhc2tQcmlvcml0eT0wJnRhc2tOb3RpZnlNb2RlPUZpbmlzaCZzb3VyY2VDb250ZXh"
          "0PSU3QiUyMnVpZCUyMiUzQSUyMnUrMSUyMiU3RCZvbmVUaW1lVmFsaWQ9MSZ2b2RTdWJBcHBJZD0xNTAwMDAwMDAx")
PY = ("aG6ZX3aZf+6tg/yRDZdRSNtM39lzZWNyZXRJZD1JYW1TZWNyZXRJZCZjdXJyZW50VGltZVN0YW1wPTE1NzEyMTUwOTUmZX"
      "hwaXJlVGltZT0xODg2NTc1MDk1JnJhbmRvbT0yMjA2MjU=")
V2_PARAMS = {"secretId": ID, "currentTimeStamp": "1551113065", "expireTime": "1551199465",
             "random": "1234567890", "procedure": "LongVideoPreset", "taskPriority": "0",
             "taskNotifyMode": "Finish", "sourceContext": '{"uid":"u 1"}', "oneTimeValid": "1",
             "vodSubAppId": "1500000001"}
KEYENV = {"VODGATE_VOD_SECRET_KEY": KEY}


def sign(*args, env=None, check=0):
    e = dict(KEYENV)
    e.update(env or {})
    return vgtest.run(["sign"] + list(args), env=e, check=check)


def inspect(*args, env=None, check=None, input=None):
    return vgtest.run(["inspect"] + list(args), env=env, check=check, input=input)


class Sign(unittest.TestCase):
    def test_v1_vector_exact(self):
        p = sign("--secret-id", ID, "--now", "1551113065", "--validity", "86400",
                 "--random", "1234567890")
        self.assertEqual(p.stdout, V1 + "\n")
        self.assertEqual(p.stderr, "")

    def test_v2_vector_exact_with_every_flag_in_order(self):
        p = sign("--secret-id", ID, "--now", "1551113065", "--expire-time", "1551199465",
                 "--random", "1234567890", "--procedure", "LongVideoPreset", "--task-priority",
                 "0", "--task-notify-mode", "Finish", "--source-context", '{"uid":"u 1"}',
                 "--one-time", "--sub-app-id", "1500000001")
        self.assertEqual(p.stdout, V2_NODE + "\n")

    def test_json_shape(self):
        p = sign("--secret-id", ID, "--now", "1551113065", "--validity", "86400",
                 "--random", "1234567890", "--json")
        self.assertEqual(json.loads(p.stdout), {
            "signature": V1,
            "original": f"secretId={ID}&currentTimeStamp=1551113065&expireTime=1551199465"
                        "&random=1234567890",
            "expireTime": 1551199465})

    def test_secret_id_from_env_and_default_validity(self):
        p = sign("--now", "1000", "--json", env={"VODGATE_VOD_SECRET_ID": "AKIDenv"})
        j = json.loads(p.stdout)
        self.assertTrue(j["original"].startswith("secretId=AKIDenv&currentTimeStamp=1000"
                                                 "&expireTime=4600&random="))
        self.assertEqual(j["expireTime"], 4600)
        raw = base64.b64decode(j["signature"])
        self.assertEqual(raw[:20], hmac.new(KEY.encode(), raw[20:], hashlib.sha1).digest())

    def test_random_drawn_when_not_given(self):
        seen = {json.loads(sign("--secret-id", "x", "--json").stdout)["original"]
                for _ in range(5)}
        self.assertEqual(len(seen), 5)

    def test_every_optional_parameter(self):
        p = sign("--secret-id", "x", "--now", "1000", "--validity", "600", "--random", "7",
                 "--procedure", "p q", "--class-id", "3", "--task-priority", "-10",
                 "--task-notify-mode", "None", "--source-context", "中文 &=",
                 "--session-context", "s", "--one-time", "--sub-app-id", "0",
                 "--storage-region", "ap-chongqing", "--json")
        self.assertEqual(json.loads(p.stdout)["original"],
                         "secretId=x&currentTimeStamp=1000&expireTime=1600&random=7&classId=3"
                         "&procedure=p%20q&taskPriority=-10&taskNotifyMode=None"
                         "&sourceContext=%E4%B8%AD%E6%96%87%20%26%3D&oneTimeValid=1"
                         "&vodSubAppId=0&sessionContext=s&storageRegion=ap-chongqing")

    def test_key_file(self):
        d = vgtest.TempDir()
        try:
            f = d.file("key", KEY + "\n")
            p = vgtest.run(["sign", "--secret-id", ID, "--now", "1551113065", "--validity",
                            "86400", "--random", "1234567890", "--secret-key-file", f], check=0)
            self.assertEqual(p.stdout, V1 + "\n")
            p = vgtest.run(["sign", "--secret-id", ID, "--secret-key-file",
                            os.path.join(d.path, "missing")], check=1)
            self.assertIn("--secret-key-file", p.stderr)
        finally:
            d.cleanup()

    def test_secret_never_from_argv(self):
        for args in (["--secret-key", "hunter2"], ["--secret-key=hunter2"], ["--key=hunter2"],
                     ["--secret-key"]):
            p = vgtest.run(["sign", "--secret-id", "x"] + args, check=2)
            self.assertIn("never accepted on the command line", p.stderr)
            self.assertNotIn("hunter2", p.stderr + p.stdout)
            p = vgtest.run(["inspect"] + args + [V1], check=2)
            self.assertIn("never accepted on the command line", p.stderr)
            self.assertNotIn("hunter2", p.stderr + p.stdout)
        # Abbreviations and stray arguments do not echo the value either.
        p = vgtest.run(["sign", "--secret-id", "x", "--secret=hunter2"], check=2)
        self.assertNotIn("hunter2", p.stderr)
        p = sign("--secret-id", "x", "hunter2", check=2)
        self.assertNotIn("hunter2", p.stderr)

    def test_no_key_is_usage_error(self):
        p = vgtest.run(["sign", "--secret-id", "x"], check=2)
        self.assertIn("VODGATE_VOD_SECRET_KEY", p.stderr)

    def test_rule_errors_name_flag_and_rule(self):
        cases = [
            (["--validity", "7776001"], "--validity", "90-day"),
            (["--validity", "0"], "--validity", "positive"),
            (["--validity", "1.5"], "--validity", "integer"),
            (["--now", "1551113065.5"], "--now", "decimal point"),
            (["--now", "2000", "--expire-time", "1000"], "--validity/--expire-time",
             "expire_not_after_start"),
            (["--now", "1000", "--expire-time", "7777001"], "--validity/--expire-time",
             "validity_too_long"),
            (["--validity", "60", "--expire-time", "99"], "--validity or --expire-time", "not both"),
            (["--random", "4294967296"], "--random", "0..4294967295"),
            (["--random", "-1"], "--random", "0..4294967295"),
            (["--task-priority", "11"], "--task-priority", "-10..10"),
            (["--task-notify-mode", "finish"], "--task-notify-mode", "Finish, Change or None"),
            (["--class-id", "x"], "--class-id", "non-negative"),
            (["--sub-app-id", "-3"], "--sub-app-id", "non-negative"),
            (["--source-context", "x" * 251], "--source-context", "250 characters"),
            (["--session-context", "y" * 1001], "--session-context", "1000 characters"),
            (["--storage-region", "AP CQ"], "--storage-region", "ap-chongqing"),
            (["--procedure", "p" * 129], "--procedure", "128 bytes"),
            (["--bogus"], "--bogus", "unknown"),
        ]
        for args, flag, rule in cases:
            p = sign("--secret-id", "x", *args, check=2)
            self.assertIn(flag, p.stderr, args)
            self.assertIn(rule, p.stderr, args)
            self.assertEqual(p.stdout, "")
        p = sign(check=2)
        self.assertIn("--secret-id", p.stderr)

    def test_contexts_count_characters_not_bytes(self):
        sign("--secret-id", "x", "--source-context", "中" * 250)  # 750 bytes
        p = sign("--secret-id", "x", "--source-context", "中" * 251, check=2)
        self.assertIn("source_context_too_long", p.stderr)
        sign("--secret-id", "x", "--session-context", "é" * 1000)

    def test_help(self):
        p = vgtest.run(["sign", "--help"], check=0)
        for flag in ("--secret-id", "--validity", "--expire-time", "--now", "--random",
                     "--procedure", "--class-id", "--task-priority", "--task-notify-mode",
                     "--source-context", "--session-context", "--one-time", "--sub-app-id",
                     "--storage-region", "--secret-key-file", "--json"):
            self.assertIn(flag, p.stdout)
        self.assertIn("VODGATE_VOD_SECRET_KEY", p.stdout)


class Inspect(unittest.TestCase):
    def test_v2_node_and_php_verify_and_decode(self):
        for sig in (V2_NODE, V2_PHP):
            p = inspect("--now", NOW, "--json", sig, env=KEYENV, check=0)
            j = json.loads(p.stdout)
            self.assertEqual(j["valid"], True)
            self.assertIsNone(j["reason"])
            self.assertTrue(j["mac_checked"])
            self.assertEqual(j["params"], V2_PARAMS)
            self.assertEqual(j["params"]["sourceContext"], '{"uid":"u 1"}')
            self.assertEqual(j["warnings"], [])
        j = json.loads(inspect("--now", NOW, "--json", V2_PHP, env=KEYENV).stdout)
        self.assertEqual(j["mac"], "fc7f30f142c97f5d7946a2d7bbc8309b8e5cb3c8")
        j = json.loads(inspect("--now", NOW, "--json", V2_NODE, env=KEYENV).stdout)
        self.assertEqual(j["mac"], "bb0c532816789e9b552119e264f09603ade8eee6")

    def test_text_output(self):
        p = inspect("--now", NOW, V2_PHP, env=KEYENV, check=0)
        self.assertIn("status:   valid (MAC verified)\n", p.stdout)
        self.assertIn('  sourceContext     = {"uid":"u 1"}\n', p.stdout)
        self.assertIn("(2019-02-26T16:44:25Z)", p.stdout)

    def test_without_key_is_well_formed(self):
        p = inspect("--now", NOW, "--json", V2_NODE, check=0)
        j = json.loads(p.stdout)
        self.assertEqual((j["valid"], j["mac_checked"]), (True, False))
        self.assertIn("MAC not checked", inspect("--now", NOW, V2_NODE, check=0).stdout)

    def test_key_file_and_wrong_key(self):
        d = vgtest.TempDir()
        try:
            f = d.file("key", KEY)
            inspect("--now", NOW, "--secret-key-file", f, V1, check=0)
            g = d.file("bad", KEY[:-1] + "F")
            j = json.loads(inspect("--now", NOW, "--secret-key-file", g, "--json", V1,
                                   check=1).stdout)
            self.assertEqual((j["valid"], j["reason"]), (False, "bad_mac"))
        finally:
            d.cleanup()

    def test_config_pair_by_secret_id(self):
        # --config: the pair whose SecretId the signature names, the current
        # one or the retired one (a signature made before a key rotation).
        d = vgtest.TempDir()
        try:
            new_id, new_key = "AKIDnewnewnewnewnewnewnewnewnewnewnew", "NewKeyNewKeyNewKeyNewKeyNewKey12"
            cur = d.file("cur", new_key)
            prev = d.file("prev", KEY)
            ini = d.file("vg.ini", "[vod]\nsecret_id = %s\nsecret_key_file = %s\n"
                                   "previous_secret_id = %s\nprevious_secret_key_file = %s\n"
                                   % (new_id, cur, ID, prev))
            j = json.loads(inspect("--now", NOW, "-c", ini, "--json", V1, check=0).stdout)
            self.assertEqual((j["valid"], j["mac_checked"]), (True, True))
            fresh = sign("--secret-id", new_id, "--now", NOW, "--validity", "600",
                         env={"VODGATE_VOD_SECRET_KEY": new_key}).stdout.strip()
            j = json.loads(inspect("--now", NOW, "--config", ini, "--json", fresh,
                                   check=0).stdout)
            self.assertEqual((j["valid"], j["mac_checked"]), (True, True))
            # A wrong retired key fails the MAC.
            bad = d.file("bad.ini", "[vod]\nsecret_id = %s\nsecret_key_file = %s\n"
                                    "previous_secret_id = %s\nprevious_secret_key_file = %s\n"
                                    % (new_id, cur, ID, cur))
            j = json.loads(inspect("--now", NOW, "-c", bad, "--json", V1, check=1).stdout)
            self.assertEqual((j["valid"], j["reason"]), (False, "bad_mac"))
            # A SecretId the configuration does not hold: refused, named.
            other = d.file("other.ini", "[vod]\nsecret_id = %s\nsecret_key_file = %s\n"
                                        % (new_id, cur))
            p = inspect("--now", NOW, "-c", other, V1, check=1)
            self.assertIn("holds no key for SecretId " + ID, p.stderr)
            self.assertNotIn(new_key, p.stderr + p.stdout)
            self.assertNotIn(KEY, p.stderr + p.stdout)
            # One source of keys at a time.
            p = inspect("--now", NOW, "-c", ini, "--secret-key-file", prev, V1, check=2)
            self.assertIn("not both", p.stderr)
        finally:
            d.cleanup()

    def test_stdin(self):
        p = inspect("--now", NOW, "--json", "-", env=KEYENV, input=V2_PHP + "\n", check=0)
        self.assertEqual(json.loads(p.stdout)["params"], V2_PARAMS)
        # A 76-column line-broken copy (old Java encoder) reads the same.
        wrapped = "\r\n".join(V2_PHP[i:i + 76] for i in range(0, len(V2_PHP), 76))
        p = inspect("--now", NOW, "--json", "-", env=KEYENV, input=wrapped, check=0)
        j = json.loads(p.stdout)
        self.assertEqual(j["params"], V2_PARAMS)
        self.assertEqual([w["code"] for w in j["warnings"]], ["base64_linebreaks"])
        p = inspect("--json", "-", input="A" * 20000, check=1)
        self.assertEqual(json.loads(p.stdout)["reason"], "too_long")
        # A line break read before the limit was passed must not turn an
        # over-long input into a parse of what was read so far: the first
        # write ends in "\n" at byte 12001 and is read whole (8192 + 3809)
        # before the rest arrives (this once gave bad_base64).
        p = subprocess.Popen([vgtest.BIN, "inspect", "--json", "-"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        p.stdin.write("%" * 12000 + "\n")
        p.stdin.flush()
        time.sleep(0.3)
        p.stdin.write("%" * 8000)
        out, _ = p.communicate(timeout=30)
        self.assertEqual((p.returncode, json.loads(out)["reason"]), (1, "too_long"))

    def test_failure_reasons_and_exit_codes(self):
        def reason(sig, now=NOW, env=KEYENV):
            p = inspect("--now", now, "--json", sig, env=env)
            j = json.loads(p.stdout)
            self.assertEqual(p.returncode, 0 if j["valid"] else 1)
            return j["reason"]

        self.assertEqual(reason(V1[:3] + "7" + V1[4:]), "bad_mac")            # tampered MAC
        self.assertEqual(reason(V1[:-3] + "Q=="), "bad_mac")                  # tampered original
        self.assertEqual(reason(V1[:-4]), "bad_mac")                          # truncated
        self.assertEqual(reason(V1[:-7]), "bad_base64")
        self.assertEqual(reason("AAAA"), "too_short")
        self.assertEqual(reason("%%%"), "bad_base64")
        self.assertEqual(reason(V1, now="1551199465"), "expired")
        self.assertEqual(reason(V1, now="1551199465", env=None), "expired")
        self.assertEqual(reason(PY, now="1571215100", env={"VODGATE_VOD_SECRET_KEY":
                                                           "IamSecretKey"}),
                         "validity_too_long")
        self.assertEqual(reason(PY, now="1571215100", env={"VODGATE_VOD_SECRET_KEY": "x"}),
                         "bad_mac")

    def test_lints_listed(self):
        orig = ("secretId=x&currentTimeStamp=1000.5&expireTime=8000000&random=1&foo=bar"
                "&sourceContext=" + "%e4%b8%ad" * 251).encode()
        sig = base64.b64encode(hmac.new(b"k", orig, hashlib.sha1).digest() + orig).decode()
        p = inspect("--now", "9000000", "--json", sig, env={"VODGATE_VOD_SECRET_KEY": "k"},
                    check=1)
        j = json.loads(p.stdout)
        self.assertEqual(j["reason"], "float_timestamp")
        codes = {w["code"] for w in j["warnings"]}
        self.assertEqual(codes, {"float_timestamp", "expired", "unknown_param",
                                 "source_context_too_long", "lowercase_hex"})

    def test_usage_errors(self):
        inspect(check=2)
        inspect(V1, V1, check=2)
        inspect("--now", "1.5", V1, check=2)
        inspect("--frobnicate", V1, check=2)
        self.assertIn("SIGNATURE", inspect("--help", check=0).stdout)


if __name__ == "__main__":
    vgtest.main()
