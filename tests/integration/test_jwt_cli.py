"""`vodgate jwt`: minting HS256 development tokens and `vodgate jwt verify`
(src/cmd/cmd_jwt.c over src/auth/jwt.c).

Minted tokens are checked independently here with Python's hmac, and the
tokens given to `jwt verify` are built by hand (tests/lib/vgjwt.py, openssl
CLI for RSA/EC), so a bug shared by minting and verifying would still show.
"""
import base64
import hashlib
import hmac
import json
import subprocess
import time
import unittest

import vgjwt
import vgtest

SECRET = "integration-secret-0123456789abcdef"


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class JwtCli(unittest.TestCase):
    def setUp(self):
        self.tmp = vgtest.TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def decode(self, token, secret=SECRET):
        h, p, s = token.split(".")
        mac = hmac.new(secret.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest()
        self.assertEqual(b64d(s), mac)
        self.assertNotIn("=", token)
        return json.loads(b64d(h)), json.loads(b64d(p))

    def test_mints_a_verifiable_token_from_env(self):
        before = int(time.time())
        p = vgtest.run(["jwt", "--sub", "alice", "--policy", "gold", "--policy-claim", "vg_policy",
                        "--iss", "https://idp.example", "--aud", "vodgate", "--ttl", "600"],
                       env={"VODGATE_AUTH_JWT_HS256_SECRET": SECRET}, check=0)
        self.assertEqual(p.stderr, "")
        token = p.stdout.strip()
        self.assertEqual(p.stdout, token + "\n")
        header, claims = self.decode(token)
        self.assertEqual(header, {"alg": "HS256", "typ": "JWT"})
        self.assertEqual(claims["sub"], "alice")
        self.assertEqual(claims["vg_policy"], "gold")
        self.assertEqual(claims["iss"], "https://idp.example")
        self.assertEqual(claims["aud"], "vodgate")
        self.assertEqual(claims["exp"] - claims["iat"], 600)
        self.assertGreaterEqual(claims["iat"], before)
        self.assertNotIn("policy", claims)

    def test_secret_file(self):
        f = self.tmp.file("secret", SECRET + "\n")
        p = vgtest.run(["jwt", "--sub", "bob", "--secret-file", f], check=0)
        _, claims = self.decode(p.stdout.strip())
        self.assertEqual(claims["sub"], "bob")
        self.assertEqual(claims["exp"] - claims["iat"], 3600)

    def test_no_secret(self):
        p = vgtest.run(["jwt", "--sub", "bob"], check=1)
        self.assertEqual(p.stdout, "")
        self.assertIn("VODGATE_AUTH_JWT_HS256_SECRET", p.stderr)

    def test_short_secret_refused_and_not_echoed(self):
        p = vgtest.run(["jwt", "--sub", "bob"], env={"VODGATE_AUTH_JWT_HS256_SECRET": "tiny-secret"},
                       check=1)
        self.assertIn("too short", p.stderr)
        self.assertNotIn("tiny-secret", p.stderr + p.stdout)

    def test_usage_errors(self):
        env = {"VODGATE_AUTH_JWT_HS256_SECRET": SECRET}
        self.assertIn("--sub is required", vgtest.run(["jwt"], env=env, check=2).stderr)
        vgtest.run(["jwt", "--sub", "a", "--ttl", "0"], env=env, check=2)
        vgtest.run(["jwt", "--sub", "a", "--ttl", "2592001"], env=env, check=2)
        for args in (["--secret", SECRET], ["--secret=" + SECRET], ["--secre", SECRET]):
            p = vgtest.run(["jwt", "--sub", "a"] + args, env=env, check=2)
            self.assertIn("never taken from the command line", p.stderr)
            self.assertNotIn(SECRET, p.stderr)
        vgtest.run(["jwt", "--sub", "a", "extra"], env=env, check=2)
        self.assertIn("--sub USER", vgtest.run(["jwt", "--help"], check=0).stdout)

    def test_refuses_a_token_the_server_would_refuse(self):
        env = {"VODGATE_AUTH_JWT_HS256_SECRET": SECRET}
        p = vgtest.run(["jwt", "--sub", "a\tb"], env=env, check=1)
        self.assertIn("malformed", p.stderr)
        p = vgtest.run(["jwt", "--sub", "x" * 257], env=env, check=1)
        self.assertEqual(p.stdout, "")


NOW = 1750000000


def claims(**kw):
    c = {"sub": "user-42", "exp": NOW + 3600, "iat": NOW, "iss": "https://idp.example",
         "aud": "vodgate", "vg_policy": "gold"}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


class JwtVerifyCli(unittest.TestCase):
    """`vodgate jwt verify` against tokens minted by hand in Python: every
    reason, through the real binary."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = vgtest.TempDir()
        cls.keys = vgjwt.Keys(cls.tmp.path)
        cls.secret_file = cls.tmp.file("secret", SECRET)
        cls.jwks = cls.tmp.file("jwks.json", cls.keys.jwks({"rsa-1": "rsa", "ec-1": "ec"}))
        cls.p384 = cls.tmp.file("p384.pem", subprocess_p384())

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def verify(self, token, *extra, rc=None):
        args = ["jwt", "verify", "--now", str(NOW), "--iss", "https://idp.example", "--aud",
                "vodgate", "--policy-claim", "vg_policy", "--secret-file", self.secret_file,
                "--public-key-file", self.keys.rsa_pub, "--jwks-file", self.jwks] + list(extra)
        p = vgtest.run(args, input=token + "\n")
        out = json.loads(p.stdout)
        self.assertEqual(p.returncode, 0 if out["result"] == "ok" else 1)
        self.assertNotIn(SECRET, p.stdout + p.stderr)
        return out

    def reason(self, token, *extra):
        return self.verify(token, *extra)["result"]

    def test_good_tokens(self):
        for tok in (vgjwt.hs256(SECRET, claims()), vgjwt.rs256(self.keys, claims()),
                    vgjwt.rs256(self.keys, claims(), kid="rsa-1"),
                    vgjwt.es256(self.keys, claims(), kid="ec-1")):
            self.assertEqual(self.verify(tok), {"result": "ok", "sub": "user-42",
                                                "policy": "gold", "exp": NOW + 3600})

    def test_attacks_and_failures(self):
        rsa_pem = open(self.keys.rsa_pub).read()
        good = vgjwt.hs256(SECRET, claims())
        cases = [
            ("", "missing"),
            ("Bearer", "missing"),
            ("Basic dXNlcg==", "malformed"),
            (good.rsplit(".", 1)[0], "malformed"),
            (good + ".x", "malformed"),
            (good[:5] + "!" + good[6:], "malformed"),
            (vgjwt.hs256(SECRET, '{"sub":"a","sub":"b","exp":1750003600}'), "malformed"),
            (vgjwt.hs256("wrong-secret-wrong-secret-wrong-secret", claims()), "bad_signature"),
            (vgjwt.none(claims()), "alg_not_allowed"),
            (vgjwt.none(claims(), signature=good.rsplit(".", 1)[1]), "alg_not_allowed"),
            (vgjwt.hs256(rsa_pem, claims()), "bad_signature"),
            (vgjwt.hs256(rsa_pem, claims(), header={"alg": "HS256", "kid": "rsa-1"}),
             "alg_not_allowed"),
            (vgjwt.rs256(self.keys, claims(), kid="nope"), "unknown_kid"),
            (vgjwt.hs256(SECRET, claims(exp=NOW - 61)), "expired"),
            (vgjwt.hs256(SECRET, claims(exp=None)), "missing_exp"),
            (vgjwt.hs256(SECRET, claims(nbf=NOW + 61)), "not_yet_valid"),
            (vgjwt.hs256(SECRET, claims(iss="https://evil.example")), "bad_issuer"),
            (vgjwt.hs256(SECRET, claims(aud=["other", "x"])), "bad_audience"),
            (vgjwt.hs256(SECRET, claims(sub=None)), "missing_sub"),
            ("a" * 8193, "too_long"),
        ]
        # One assertion over all cases (vgtest's TAP output does not report subTest failures).
        got = [(want, self.reason(token)) for token, want in cases]
        self.assertEqual([g for w, g in got], [w for w, g in got])
        # Leeway honoured both ways; by default [auth] jwt_leeway's 30 s, as
        # the server (it was 60: verify passed tokens the server refused).
        self.assertEqual(self.reason(vgjwt.hs256(SECRET, claims(exp=NOW - 29))), "ok")
        self.assertEqual(self.reason(vgjwt.hs256(SECRET, claims(exp=NOW - 30))), "expired")
        self.assertEqual(self.reason(vgjwt.hs256(SECRET, claims(nbf=NOW + 30))), "ok")
        self.assertEqual(self.reason(vgjwt.hs256(SECRET, claims(nbf=NOW + 31))), "not_yet_valid")
        self.assertEqual(self.reason(vgjwt.hs256(SECRET, claims(exp=NOW - 1)), "--leeway", "0"),
                         "expired")
        self.assertEqual(self.reason(vgjwt.hs256(SECRET, claims(exp=NOW - 59)), "--leeway", "60"),
                         "ok")
        # The same bounds as the key: 0 to 300.
        p = vgtest.run(["jwt", "verify", "--leeway", "301"], input="x")
        self.assertEqual((p.returncode, p.stderr),
                         (2, "vodgate jwt verify: --leeway must be 0 to 300\n"))

    def test_hs256_with_public_key_against_rs_only(self):
        rsa_pem = open(self.keys.rsa_pub).read()
        p = vgtest.run(["jwt", "verify", "--now", str(NOW), "--public-key-file",
                        self.keys.rsa_pub], input=vgjwt.hs256(rsa_pem, claims(aud=None)))
        self.assertEqual(json.loads(p.stdout), {"result": "alg_not_allowed"})
        p = vgtest.run(["jwt", "verify", "--now", str(NOW), "--secret-file", self.secret_file],
                       input=vgjwt.rs256(self.keys, claims(aud=None)))
        self.assertEqual(json.loads(p.stdout), {"result": "alg_not_allowed"})

    def test_bad_key_configuration(self):
        p = vgtest.run(["jwt", "verify", "--public-key-file", self.p384], input="x")
        self.assertEqual(p.returncode, 1)
        self.assertIn("curve secp384r1", p.stderr)
        p = vgtest.run(["jwt", "verify", "--public-key-file", self.keys.rsa], input="x")
        self.assertIn("private key", p.stderr)
        p = vgtest.run(["jwt", "verify"], input="x")
        self.assertIn("no JWT key configured", p.stderr)
        vgtest.run(["jwt", "verify", "token-on-argv"], check=2)


def subprocess_p384():
    """PEM public key on P-384 (ES384's curve), which vodgate must refuse."""
    key = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                          "ec_paramgen_curve:P-384"], capture_output=True, check=True).stdout
    return subprocess.run(["openssl", "pkey", "-pubout"], input=key, capture_output=True,
                          check=True).stdout.decode()


if __name__ == "__main__":
    vgtest.main()
