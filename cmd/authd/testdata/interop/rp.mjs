// A relying party built on openid-client (panva's certified RP library),
// driven by authd's interoperability tests (cmd/authd/interop_test.go).
//
//   node rp.mjs ISSUER CLIENT_ID [CLIENT_SECRET]       a registered client
//   node rp.mjs ISSUER --register [INITIAL_TOKEN]      registers itself (RFC 7591)
//
// It serves on a free loopback port and prints one JSON line when ready:
// {"rp": base URL, "redirect_uri": ..., "client_id": ...}. Then:
//
//   GET  /login?k=v...  302 to authd's authorization endpoint: PKCE (S256),
//                       state and nonce of its own; every query parameter
//                       is added to the request (prompt, id_token_hint,
//                       response_mode, max_age, scope, ...).
//   GET|POST /callback  the authorization response (query or form_post):
//                       openid-client validates it (state, RFC 9207 iss),
//                       redeems the code, validates the ID token (signature,
//                       iss, aud, exp, iat, nonce, auth_time with max_age) and
//                       fetches userinfo with the expected subject. 200 JSON
//                       {tokens, claims, userinfo}; 400 JSON {error, name,
//                       message} when any of it fails. A response that fails
//                       keeps its state, so a test can present a forged one
//                       before the genuine one.
//   POST /refresh       JSON {refresh_token}: refreshTokenGrant, 200 JSON
//                       {tokens, claims} or 400 as above.
//
// Its stderr carries one line per failure.
import http from 'node:http';
import * as client from 'openid-client';

const [issuerArg, clientArg, secretArg] = process.argv.slice(2);
if (!issuerArg || !clientArg) {
  console.error('usage: node rp.mjs ISSUER (CLIENT_ID [CLIENT_SECRET] | --register [INITIAL_TOKEN])');
  process.exit(2);
}
const issuer = new URL(issuerArg);
// authd runs on plain http on loopback in the tests.
const insecure = { execute: [client.allowInsecureRequests] };

const pending = new Map(); // state -> {verifier, nonce, maxAge}
let config;
let redirectURI;

const server = http.createServer((req, res) => {
  route(req, res).catch((err) => reply(res, 500, failure(err)));
});
server.listen(0, '127.0.0.1', async () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  redirectURI = `${base}/callback`;
  try {
    config = await configure();
  } catch (err) {
    console.error('rp: configure:', describe(err));
    process.exit(1);
  }
  const out = { rp: base, redirect_uri: redirectURI, client_id: config.clientMetadata().client_id };
  process.stdout.write(JSON.stringify(out) + '\n');
});

// configure discovers authd, or registers a client there (RFC 7591).
async function configure() {
  if (clientArg !== '--register') {
    const auth = secretArg ? client.ClientSecretBasic(secretArg) : client.None();
    return client.discovery(issuer, clientArg, secretArg, auth, insecure);
  }
  const metadata = {
    client_name: 'openid-client interop',
    redirect_uris: [redirectURI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile email offline_access',
  };
  const opts = { ...insecure, ...(secretArg ? { initialAccessToken: secretArg } : {}) };
  const cfg = await client.dynamicClientRegistration(issuer, metadata, undefined, opts);
  // The registered secret is sent with HTTP Basic, as registered.
  const registered = cfg.clientMetadata();
  const basic = new client.Configuration(cfg.serverMetadata(), registered.client_id, registered, client.ClientSecretBasic(registered.client_secret));
  client.allowInsecureRequests(basic);
  return basic;
}

async function route(req, res) {
  const url = new URL(req.url, redirectURI);
  if (req.method === 'GET' && url.pathname === '/login') return login(url, res);
  if (url.pathname === '/callback') return callback(req, url, res);
  if (req.method === 'POST' && url.pathname === '/refresh') return refresh(req, res);
  reply(res, 404, { error: 'not_found' });
}

async function login(url, res) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const params = {
    redirect_uri: redirectURI,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  for (const [k, v] of url.searchParams) params[k] = v;
  const maxAge = params.max_age === undefined ? undefined : Number(params.max_age);
  pending.set(state, { verifier, nonce, maxAge });
  res.writeHead(302, { Location: client.buildAuthorizationUrl(config, params).href });
  res.end();
}

async function callback(req, url, res) {
  const body = await readBody(req);
  const current = req.method === 'POST'
    ? new Request(url, { method: 'POST', headers: { 'content-type': req.headers['content-type'] ?? '' }, body })
    : url;
  const params = req.method === 'POST' ? new URLSearchParams(body.toString()) : url.searchParams;
  const state = params.get('state');
  const run = pending.get(state);
  if (!run) return reply(res, 400, { error: 'unknown_state', message: `no authorization request with state ${state}` });
  try {
    const tokens = await client.authorizationCodeGrant(config, current, {
      pkceCodeVerifier: run.verifier,
      expectedNonce: run.nonce,
      expectedState: state,
      maxAge: run.maxAge,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    pending.delete(state);
    reply(res, 200, { tokens, claims, userinfo });
  } catch (err) {
    reply(res, 400, failure(err));
  }
}

async function refresh(req, res) {
  const { refresh_token: rt } = JSON.parse((await readBody(req)).toString());
  try {
    const tokens = await client.refreshTokenGrant(config, rt);
    reply(res, 200, { tokens, claims: tokens.claims() ?? null });
  } catch (err) {
    reply(res, 400, failure(err));
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// failure is the JSON answer for an error openid-client raised: error is
// the OAuth error code when the server sent one, else openid-client's own
// code (e.g. OAUTH_JWT_CLAIM_COMPARISON_FAILED).
function failure(err) {
  console.error('rp:', describe(err));
  return { error: err.error ?? err.code ?? 'error', name: err.name, message: describe(err) };
}

function describe(err) {
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : err.cause ? `: ${JSON.stringify(err.cause)}` : '';
  const status = err.status ? ` (HTTP ${err.status})` : '';
  return `${err.name}${status}: ${err.message}${cause}`;
}

function reply(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
