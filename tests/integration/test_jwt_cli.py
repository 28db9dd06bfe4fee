"""`vodgate jwt`: minting HS256 development tokens (src/cmd/cmd_jwt.c).

The token is checked independently here with Python's hmac, so a bug shared
by the minting helper and the verifier would still show.
"""
import base64
import hashlib
import hmac
import json
import time
import unittest

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


if __name__ == "__main__":
    vgtest.main()
