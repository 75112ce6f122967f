"""A small OAuth2 / OpenID Connect provider that plays Azure AD for the end-to-end bed.

It serves what a hub configured for Azure AD talks to, under Azure's URL layout with the
tenant id in the path (`<base>/<tenant>/oauth2/authorize`, `.../oauth2/token`, the v2.0
variants, `.../discovery/v2.0/keys`, `.../v2.0/.well-known/openid-configuration`), so
oauthenticator's AzureAdOAuthenticator reaches it by pointing its `graph_url` at `base_url`.

- authorize: GET shows a login form (Azure's sign-in page); the test's "browser" POSTs the
  identity to sign in as, and is redirected back with `code` and `state`. PKCE (S256) is
  checked when the client sent a challenge, as Azure does.
- token: authorization_code (client id/secret by form or HTTP Basic, redirect_uri and PKCE
  verifier checked), returns an opaque access token and an RS256 id_token signed with a key
  published in the JWKS (`kid` in the header), carrying Azure's claims: `tid`, `oid`, `sub`,
  `name`, `unique_name`, `upn`, `preferred_username`, `email`, `groups`, `aud`, `iss`, times.
- userinfo (`<base>/oidc/userinfo`, Bearer): the same claims, for generic OIDC.

Requests are recorded in `events` (paths and parameter NAMES: secrets are not kept), so a
test can assert that the hub really went through the token endpoint and fetched the keys.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@dataclass
class Identity:
    """An Azure AD account: `upn` is what the user types, `oid` what Azure keeps stable."""

    upn: str
    name: str = ""
    oid: str = field(default_factory=lambda: str(uuid.uuid4()))
    groups: list[str] = field(default_factory=list)
    email: str = ""

    def claims(self, tenant: str) -> dict[str, Any]:
        return {
            "tid": tenant,
            "oid": self.oid,
            "sub": hashlib.sha256(f"{tenant}:{self.oid}".encode()).hexdigest()[:43],
            "name": self.name or self.upn.split("@")[0],
            "unique_name": self.upn,
            "upn": self.upn,
            "preferred_username": self.upn,
            "email": self.email or self.upn,
            "groups": list(self.groups),
        }


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    identity: Identity
    challenge: str | None
    nonce: str | None
    expires: float


class AzureADStandin:
    """Run with `with AzureADStandin(host=ip) as idp:`; register accounts with `add()`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, tenant: str | None = None,
                 client_id: str | None = None, client_secret: str | None = None,
                 token_lifetime: int = 3600) -> None:
        self.tenant = tenant or str(uuid.uuid4())
        self.client_id = client_id or str(uuid.uuid4())
        self.client_secret = client_secret or secrets.token_urlsafe(24)
        self.token_lifetime = token_lifetime
        self.kid = secrets.token_hex(8)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.identities: dict[str, Identity] = {}
        self.events: list[dict[str, Any]] = []
        self._grants: dict[str, _Grant] = {}
        self._tokens: dict[str, Identity] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> AzureADStandin:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="azuread-standin")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> AzureADStandin:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what a hub is configured with ---------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{self.tenant}"

    @property
    def issuer(self) -> str:
        return f"{self.authority}/v2.0"

    @property
    def authorize_url(self) -> str:
        return f"{self.authority}/oauth2/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.authority}/oauth2/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.authority}/discovery/v2.0/keys"

    @property
    def userinfo_url(self) -> str:
        return f"{self.base_url}/oidc/userinfo"

    def add(self, upn: str, **kwargs: Any) -> Identity:
        identity = Identity(upn=upn, **kwargs)
        with self._lock:
            self.identities[upn] = identity
        return identity

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.authority}/oauth2/v2.0/authorize",
            "token_endpoint": f"{self.authority}/oauth2/v2.0/token",
            "userinfo_endpoint": self.userinfo_url,
            "jwks_uri": self.jwks_url,
            "response_types_supported": ["code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                      "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "tenant_region_scope": "EU",
        }

    def id_token(self, identity: Identity, *, nonce: str | None = None,
                 audience: str | None = None) -> str:
        now = int(time.time())
        claims = {
            **identity.claims(self.tenant),
            "aud": audience or self.client_id,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "ver": "2.0",
        }
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def token_requests(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["endpoint"] == "token"]

    def jwks_requests(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["endpoint"] == "jwks"]

    # --- HTTP ----------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # the events list is the log; stderr noise hides test output

            def do_GET(self) -> None:
                idp._dispatch(self, "GET")

            def do_POST(self) -> None:
                idp._dispatch(self, "POST")

        return Handler

    def _dispatch(self, req: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(req.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if method == "POST":
            length = int(req.headers.get("Content-Length") or 0)
            body = req.rfile.read(length).decode()
            params.update({k: v[-1] for k, v in parse_qs(body).items()})
        parts = [p for p in url.path.split("/") if p]
        try:
            status, headers, payload = self._route(req, method, parts, params)
        except _HTTPError as err:
            status, headers, payload = err.status, {}, {"error": err.error,
                                                        "error_description": err.description}
        if isinstance(payload, (dict, list)):
            data = json.dumps(payload).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            data = payload.encode()
            headers.setdefault("Content-Type", "text/html; charset=utf-8")
        req.send_response(status)
        for name, value in headers.items():
            req.send_header(name, value)
        req.send_header("Content-Length", str(len(data)))
        req.send_header("Cache-Control", "no-store")
        req.end_headers()
        req.wfile.write(data)

    def _record(self, endpoint: str, method: str, params: dict[str, str], **extra: Any) -> None:
        with self._lock:
            self.events.append({"endpoint": endpoint, "method": method,
                                "params": sorted(params), **extra})

    def _route(self, req: BaseHTTPRequestHandler, method: str, parts: list[str],
               params: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if parts == ["oidc", "userinfo"]:
            return self._userinfo(req)
        if not parts or parts[0] not in (self.tenant, "common", "organizations"):
            raise _HTTPError(404, "invalid_tenant", f"unknown tenant {parts[:1]}")
        rest = [p for p in parts[1:] if p != "v2.0"]
        if rest == [".well-known", "openid-configuration"]:
            return 200, {}, self.openid_configuration()
        if rest == ["discovery", "keys"]:
            self._record("jwks", method, params)  # shows the hub verifies signatures
            return 200, {}, self.jwks()
        if parts[0] != self.tenant:
            raise _HTTPError(400, "invalid_request", "this app is registered in one tenant")
        if rest == ["oauth2", "authorize"]:
            return self._authorize(method, params)
        if rest == ["oauth2", "token"] and method == "POST":
            return self._token(req, params)
        raise _HTTPError(404, "not_found", "/".join(parts))

    def _authorize(self, method: str, params: dict[str, str]) -> tuple[int, dict, Any]:
        self._record("authorize", method, params)
        if params.get("client_id") != self.client_id:
            raise _HTTPError(400, "unauthorized_client", "unknown client_id")
        if params.get("response_type") != "code" or not params.get("redirect_uri"):
            raise _HTTPError(400, "invalid_request", "response_type=code and redirect_uri")
        if method == "GET":
            return 200, {}, self._login_page(params)
        identity = self.identities.get(params.get("login", ""))
        if identity is None:
            return 200, {}, self._login_page(params, error="unknown account")
        challenge = params.get("code_challenge")
        if challenge and params.get("code_challenge_method", "plain") != "S256":
            raise _HTTPError(400, "invalid_request", "only S256 PKCE")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = _Grant(self.client_id, params["redirect_uri"], identity,
                                        challenge, params.get("nonce"), time.time() + 300)
        query = {"code": code}
        if "state" in params:
            query["state"] = params["state"]
        sep = "&" if "?" in params["redirect_uri"] else "?"
        return 302, {"Location": params["redirect_uri"] + sep + urlencode(query)}, ""

    def _login_page(self, params: dict[str, str], error: str = "") -> str:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items() if k != "login"
        )
        return (f"<html><body><h1>Sign in</h1><p>{html.escape(error)}</p>"
                f'<form method="post"><input name="login">{hidden}</form></body></html>')

    def _token(self, req: BaseHTTPRequestHandler, params: dict[str, str]) -> tuple[int, dict, Any]:
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        auth = req.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        self._record("token", "POST", params, basic_auth=auth.startswith("Basic "))
        if client_id != self.client_id or client_secret != self.client_secret:
            raise _HTTPError(401, "invalid_client", "client authentication failed")
        if params.get("grant_type") != "authorization_code":
            raise _HTTPError(400, "unsupported_grant_type", "authorization_code only")
        with self._lock:
            grant = self._grants.pop(params.get("code", ""), None)
        if grant is None or grant.expires < time.time():
            raise _HTTPError(400, "invalid_grant", "unknown, used or expired code")
        if params.get("redirect_uri") != grant.redirect_uri:
            raise _HTTPError(400, "invalid_grant", "redirect_uri differs from the authorize one")
        if grant.challenge:
            verifier = params.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).decode().rstrip("=") != grant.challenge:
                raise _HTTPError(400, "invalid_grant", "PKCE verification failed")
        access = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[access] = grant.identity
        return 200, {}, {
            "token_type": "Bearer",
            "scope": params.get("scope", "openid profile email"),
            "expires_in": self.token_lifetime,
            "access_token": access,
            "refresh_token": secrets.token_urlsafe(32),
            "id_token": self.id_token(grant.identity, nonce=grant.nonce),
        }

    def _userinfo(self, req: BaseHTTPRequestHandler) -> tuple[int, dict, Any]:
        auth = req.headers.get("Authorization", "")
        self._record("userinfo", "GET", {})
        with self._lock:
            identity = self._tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if identity is None:
            raise _HTTPError(401, "invalid_token", "missing or unknown bearer token")
        return 200, {}, identity.claims(self.tenant)


class _HTTPError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description
