"""Hand-made JWTs for vodgate's tests (Python stdlib + the openssl CLI).

Tokens are assembled here byte by byte, so tests can build the attacks a
JWT library would refuse to produce: alg "none", HS256 "signed" with an RSA
public key, duplicate members, non-canonical base64url, and so on.

    keys = vgjwt.Keys(tmpdir)            # RSA-2048 and EC P-256 key pairs
    keys.rsa_pub, keys.ec_pub            # PEM file paths for jwt_public_key_file
    keys.jwks({"rsa-1": "rsa", "ec-1": "ec"})   # JWKS text for jwks_file
    vgjwt.hs256(secret, {"sub": "u", "exp": ...})
    vgjwt.rs256(keys, claims, kid="rsa-1"), vgjwt.es256(keys, claims)
    vgjwt.none(claims), vgjwt.hs256(open(keys.rsa_pub).read(), claims)  # attacks
"""
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(obj):
    return obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))


def signing_input(header, claims):
    return b64url(_json(header)) + "." + b64url(_json(claims))


def hs256(secret, claims, header=None):
    """HS256 token. header/claims: dict or exact JSON text."""
    si = signing_input(header or {"alg": "HS256", "typ": "JWT"}, claims)
    key = secret.encode() if isinstance(secret, str) else secret
    return si + "." + b64url(hmac.new(key, si.encode(), hashlib.sha256).digest())


def none(claims, signature=""):
    """Unsecured JWT (RFC 7519 6.1); must always be refused."""
    return signing_input({"alg": "none", "typ": "JWT"}, claims) + "." + signature


def _openssl(*args, data=None):
    return subprocess.run(["openssl"] + list(args), input=data, capture_output=True,
                          check=True).stdout


def _der_to_raw(der, size=32):
    """ECDSA-Sig-Value (DER) -> JWS r||s."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\0")
        out += v.rjust(size, b"\0")
        i += 2 + n
    return out


class Keys:
    """An RSA-2048 and an EC P-256 key pair, as PEM files in directory d."""

    def __init__(self, d):
        self.dir = d
        self.rsa = os.path.join(d, "rsa.key")
        self.ec = os.path.join(d, "ec.key")
        self.rsa_pub = os.path.join(d, "rsa.pub.pem")
        self.ec_pub = os.path.join(d, "ec.pub.pem")
        _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                 "-out", self.rsa)
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", self.ec)
        _openssl("pkey", "-in", self.rsa, "-pubout", "-out", self.rsa_pub)
        _openssl("pkey", "-in", self.ec, "-pubout", "-out", self.ec_pub)

    def sign(self, which, data):
        key = self.rsa if which == "rsa" else self.ec
        sig = _openssl("dgst", "-sha256", "-sign", key, data=data.encode())
        return sig if which == "rsa" else _der_to_raw(sig)

    def jwk(self, which, kid=None):
        text = _openssl("pkey", "-pubin", "-in", self.rsa_pub if which == "rsa" else self.ec_pub,
                        "-text", "-noout").decode()
        if which == "rsa":
            mod = re.search(r"Modulus:\s*\n((?:\s+[0-9a-f:]+\n)+)", text).group(1)
            n = bytes.fromhex(re.sub(r"[\s:]", "", mod)).lstrip(b"\0")
            e = int(re.search(r"Exponent: (\d+)", text).group(1))
            jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "n": b64url(n),
                   "e": b64url(e.to_bytes((e.bit_length() + 7) // 8, "big"))}
        else:
            pub = re.search(r"pub:\s*\n((?:\s+[0-9a-f:]+\n)+)", text).group(1)
            pt = bytes.fromhex(re.sub(r"[\s:]", "", pub))
            assert pt[0] == 4 and len(pt) == 65
            jwk = {"kty": "EC", "crv": "P-256", "x": b64url(pt[1:33]), "y": b64url(pt[33:])}
        if kid:
            jwk["kid"] = kid
        return jwk

    def jwks(self, kids):
        """kids: {"kid": "rsa"|"ec"} -> JWKS JSON text."""
        return json.dumps({"keys": [self.jwk(w, k) for k, w in kids.items()]})


def rs256(keys, claims, kid=None, header=None):
    h = header or dict({"alg": "RS256", "typ": "JWT"}, **({"kid": kid} if kid else {}))
    si = signing_input(h, claims)
    return si + "." + b64url(keys.sign("rsa", si))


def es256(keys, claims, kid=None, header=None):
    h = header or dict({"alg": "ES256", "typ": "JWT"}, **({"kid": kid} if kid else {}))
    si = signing_input(h, claims)
    return si + "." + b64url(keys.sign("ec", si))
