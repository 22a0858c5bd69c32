// node-oidc-provider set up like confidp's benchmark tenant (tenants/acme.yaml as bench/flow.py
// and bench/compare.py run it), for side-by-side figures with the same client (issue 16):
//
// - one public client, portal-spa (token_endpoint_auth_method none), code flow with PKCE S256
//   required, refresh tokens (offline, see issueRefreshToken below), rotated on every use;
// - ID tokens signed RS256 with a 2048-bit key made at startup, carrying the profile and email
//   claims (conformIdTokenClaims off, as confidp puts them in the ID token);
// - an account store with one user, alice / wonderland (a demo credential, as in acme.yaml);
// - the provider's own in-memory adapter (confidp runs with its memory store);
// - interaction endpoints a browser goes through, as in the project's example routes
//   (example/routes/koa.js): GET /interaction/:uid shows the login or consent form,
//   POST /interaction/:uid/login checks the password, POST /interaction/:uid/confirm records
//   the grant. A session exists only after that; nothing here skips the provider's checks.
//
// Only for benchmarks, on 127.0.0.1:
//   node bench/peer/provider.mjs --port 4000 [--modules bench/.peer/node_modules]
//                                [--access-token opaque|jwt]
// --access-token jwt issues RS256 JWT access tokens (a default resource with the jwt format),
// as confidp does; opaque (the provider's default) issues opaque ones kept in its store.

import { generateKeyPairSync, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: options } = parseArgs({
  options: {
    port: { type: 'string' },
    modules: { type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), '..', '.peer', 'node_modules') },
    'access-token': { type: 'string', default: 'opaque' },
  },
});
const port = Number.parseInt(options.port ?? '', 10);
if (!(port > 0 && port < 65536)) throw new TypeError('--port N is required');
if (!['opaque', 'jwt'].includes(options['access-token'])) throw new TypeError('--access-token is opaque or jwt');

const { default: Provider, errors } = await import(
  pathToFileURL(join(options.modules, 'oidc-provider', 'lib', 'index.js')).href);

const ISSUER = `http://127.0.0.1:${port}`;
const RESOURCE = `${ISSUER}/api`; // the audience of JWT access tokens with --access-token jwt
const MAX_FORM = 8 * 1024;

// ---- the account store: one user -------------------------------------------------------------
const SALT = randomBytes(16);
const USERS = new Map([['alice', {
  accountId: 'alice',
  passwordHash: scryptSync('wonderland', SALT, 32),
  claims: {
    email: 'alice@example.com',
    email_verified: true,
    name: 'Alice Liddell',
    given_name: 'Alice',
    family_name: 'Liddell',
    customer_number: 'C-1042',
  },
}]]);

function checkPassword(username, password) {
  const user = USERS.get(username);
  const hash = scryptSync(password, SALT, 32);
  if (user === undefined) return undefined;
  return timingSafeEqual(hash, user.passwordHash) ? user : undefined;
}

async function findAccount(_ctx, sub) {
  const user = USERS.get(sub);
  if (user === undefined) return undefined;
  return {
    accountId: sub,
    async claims() { return { sub, ...user.claims }; },
  };
}

// ---- the provider ----------------------------------------------------------------------------
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };

const configuration = {
  clients: [{
    client_id: 'portal-spa',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['https://portal.example.com/callback', 'http://127.0.0.1:9999/callback'],
    post_logout_redirect_uris: ['https://portal.example.com/', 'http://127.0.0.1:9999/'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: 'openid profile email offline_access orders.read',
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'orders.read'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name'],
    email: ['email', 'email_verified'],
    'orders.read': ['customer_number'],
  },
  conformIdTokenClaims: false,
  findAccount,
  pkce: { required: () => true }, // S256 is the only method it accepts
  rotateRefreshToken: true,
  // The provider drops offline_access from a request without prompt=consent (OpenID Connect
  // Core §11: unless "other conditions ... permitting offline access" are in place), which
  // would ask for consent on every sign-in. confidp's condition is the consent it remembers;
  // here, the client is allowed refresh tokens, and they outlive the session as offline ones.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  expiresWithSession: async () => false,
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
    resourceIndicators: options['access-token'] === 'jwt' ? {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'orders.read',
        audience: RESOURCE,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    } : { enabled: false },
  },
  // the lifetimes of tenants/acme.yaml
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    IdToken: 600,
    Interaction: 3600,
    RefreshToken: 7 * 24 * 3600,
    Grant: 30 * 24 * 3600,
    Session: 24 * 3600,
  },
  async renderError(ctx, out) {
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = `${out.error}: ${out.error_description ?? ''}`;
  },
};

const provider = new Provider(ISSUER, configuration);

// ---- interaction endpoints (login and consent pages) ------------------------------------------
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(ctx) {
  if (!ctx.is('application/x-www-form-urlencoded')) ctx.throw(415, 'a form is expected');
  let size = 0;
  const chunks = [];
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > MAX_FORM) ctx.throw(413, 'form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function page(ctx, title, action, fields) {
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = `<!doctype html><title>${escape(title)}</title><h1>${escape(title)}</h1>`
    + `<form method="post" action="${escape(action)}">${fields}<button>Continue</button></form>`;
}

async function finish(ctx, result, mergeWithLastSubmission) {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission });
  ctx.status = 303;
  ctx.redirect(returnTo);
}

const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm))?$/;

provider.use(async (ctx, next) => {
  const match = INTERACTION.exec(ctx.path);
  if (match === null) return next();
  ctx.set('cache-control', 'no-store');
  try {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const [, uid, step] = match;
    if (details.uid !== uid) ctx.throw(400, 'this sign-in belongs to another interaction');
    const { prompt, params, session } = details;
    if (ctx.method === 'GET' && step === undefined) {
      if (prompt.name === 'login') {
        return page(ctx, 'Sign in', `/interaction/${uid}/login`,
          '<input name="username" autocomplete="username"><input name="password" type="password">');
      }
      if (prompt.name === 'consent') {
        return page(ctx, `Allow ${params.client_id}?`, `/interaction/${uid}/confirm`, '');
      }
      ctx.throw(400, `unexpected prompt ${prompt.name}`);
    }
    if (ctx.method !== 'POST' || step === undefined) ctx.throw(405);
    const form = await readForm(ctx);
    if (step === 'login') {
      if (prompt.name !== 'login') ctx.throw(400, 'not a login step');
      const user = checkPassword(form.get('username') ?? '', form.get('password') ?? '');
      if (user === undefined) ctx.throw(401, 'wrong username or password');
      return await finish(ctx, { login: { accountId: user.accountId } }, false);
    }
    if (prompt.name !== 'consent') ctx.throw(400, 'not a consent step');
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return await finish(ctx, { consent: details.grantId ? {} : { grantId } }, true);
  } catch (error) {
    if (error instanceof errors.SessionNotFound) {
      ctx.status = 400;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = 'This sign-in has expired or belongs to another browser.';
      return undefined;
    }
    throw error;
  }
});

provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`node-oidc-provider on ${ISSUER} (access tokens: ${options['access-token']})\n`);
});
