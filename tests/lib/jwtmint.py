"""Mint JWTs for integration tests, independently of vodgate's own code.

HS256 with Python's hmac; RS256/ES256 and key generation with Node's crypto
module (node is a test dependency), so the daemon is checked against tokens
made by a different implementation.
"""
import base64
import hashlib
import hmac
import json
import subprocess
import time


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(sub="alice", ttl=600, **extra):
    now = int(time.time())
    c = {"sub": sub, "iat": now, "exp": now + ttl}
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


def hs256(secret, payload, header=None):
    h = header or {"alg": "HS256", "typ": "JWT"}
    signing = f"{b64url(json.dumps(h))}.{b64url(json.dumps(payload))}"
    key = secret.encode() if isinstance(secret, str) else secret
    sig = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{b64url(sig)}"


def unsigned(payload, alg="none"):
    return f"{b64url(json.dumps({'alg': alg, 'typ': 'JWT'}))}.{b64url(json.dumps(payload))}."


_NODE = r"""
const crypto = require('crypto');
const req = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const b64u = b => Buffer.from(b).toString('base64url');
if (req.op === 'keygen') {
  const opts = req.kind === 'rsa' ? {modulusLength: 2048} : {namedCurve: req.curve || 'P-256'};
  const {publicKey, privateKey} = crypto.generateKeyPairSync(req.kind, opts);
  const jwk = publicKey.export({format: 'jwk'});
  process.stdout.write(JSON.stringify({
    public_pem: publicKey.export({type: 'spki', format: 'pem'}),
    private_pem: privateKey.export({type: 'pkcs8', format: 'pem'}),
    jwk}));
} else {
  const head = b64u(JSON.stringify(req.header)), body = b64u(JSON.stringify(req.payload));
  const input = head + '.' + body;
  const key = crypto.createPrivateKey(req.private_pem);
  const sig = req.header.alg === 'ES256'
    ? crypto.sign('sha256', Buffer.from(input), {key, dsaEncoding: 'ieee-p1363'})
    : crypto.sign('sha256', Buffer.from(input), key);
  process.stdout.write(input + '.' + b64u(sig));
}
"""


def _node(req):
    p = subprocess.run(["node", "-e", _NODE], input=json.dumps(req), capture_output=True,
                       text=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("node failed: " + p.stderr)
    return p.stdout


def keygen(kind="rsa", curve="P-256"):
    """Returns {'public_pem','private_pem','jwk'} (kind 'rsa' or 'ec')."""
    return json.loads(_node({"op": "keygen", "kind": kind, "curve": curve}))


def sign_asym(private_pem, payload, alg="RS256", kid=None):
    header = {"alg": alg, "typ": "JWT"}
    if kid:
        header["kid"] = kid
    return _node({"op": "sign", "private_pem": private_pem, "header": header, "payload": payload})
