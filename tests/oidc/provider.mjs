// A real OpenID Connect provider on loopback for Anlauf's tests (node's oidc-provider).
//
// Started by tests/market/accounts/test_oidc.py; never used in production. Configured by env:
//   OIDC_PORT            port on 127.0.0.1 (required); the issuer is http://127.0.0.1:<port>
//   OIDC_CLIENT_ID       the one static client (default "anlauf")
//   OIDC_CLIENT_SECRET   its secret (default "anlauf-test-secret")
//   OIDC_REDIRECT_URIS   comma-separated callback URLs of the app under test (required)
//   OIDC_LOGIN_AS        account used when a request has no login_hint (default "alice")
//
// Logging in needs no form: /interaction/<uid> signs in the account named by the request's
// login_hint (or OIDC_LOGIN_AS) and grants every scope the client asks for, so an HTTP client
// that follows redirects gets from the authorization request to the app's callback.
//
// Test-only: PUT /__test__/accounts/<sub> with a JSON body {email, email_verified, name, locale}
// adds or changes an account, e.g. to change someone's email between two logins.

import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import { Provider } from 'oidc-provider';

const port = Number.parseInt(process.env.OIDC_PORT ?? '', 10);
const redirectUris = (process.env.OIDC_REDIRECT_URIS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
if (!port || redirectUris.length === 0) {
  console.error('OIDC_PORT and OIDC_REDIRECT_URIS are required');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const ACCOUNTS = new Map(Object.entries({
  alice: { email: 'alice@example.org', email_verified: true, name: 'Alice Example', locale: 'en' },
  bob: { email: 'bob@example.org', email_verified: false, name: 'Bob Example' },
  carol: { email: 'carol@example.org', email_verified: true, name: 'Carol Example', locale: 'de' },
}));

async function findAccount(ctx, sub) {
  const account = ACCOUNTS.get(sub);
  if (!account) return undefined;
  return {
    accountId: sub,
    async claims() {
      const current = ACCOUNTS.get(sub) ?? account;
      return { sub, ...current };
    },
  };
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.OIDC_CLIENT_ID || 'anlauf',
    client_secret: process.env.OIDC_CLIENT_SECRET || 'anlauf-test-secret',
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey] },
  findAccount,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'locale'],
  },
  // PKCE is mandatory here, so a client that forgets it (or sends a wrong verifier) fails.
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
  },
  interactions: {
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  cookies: { keys: ['anlauf-test-cookie-key'] },
  ttl: { Session: 600, Interaction: 600, Grant: 600, AuthorizationCode: 60, AccessToken: 600, IdToken: 600 },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    const accountId = params.login_hint || process.env.OIDC_LOGIN_AS || 'alice';
    if (!ACCOUNTS.has(accountId)) {
      await provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: `no test account ${accountId}`,
      }, { mergeWithLastSubmission: false });
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
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
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  res.statusCode = 400;
  res.end(`unexpected prompt ${prompt.name}`);
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

const handle = provider.callback();
const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (req.method === 'GET' && url.pathname.startsWith('/interaction/')) {
      await interaction(req, res);
      return;
    }
    const testAccount = url.pathname.match(/^\/__test__\/accounts\/([^/]+)$/);
    if (req.method === 'PUT' && testAccount) {
      const sub = decodeURIComponent(testAccount[1]);
      ACCOUNTS.set(sub, await readJson(req));
      res.statusCode = 204;
      res.end();
      return;
    }
    handle(req, res);
  } catch (err) {
    console.error(err);
    res.statusCode = 500;
    res.end(String(err));
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
