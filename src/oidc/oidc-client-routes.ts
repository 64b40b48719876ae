/**
 * A platform's own OpenID client settings (issue 4 "the provider's clients being idbind's
 * registered platforms"), with its API key like the rest of the provider console: read, create
 * or change (the first PUT creates the client and answers its secret once), rotate the secret.
 * Thin: the rules live in oidc-client-service.ts.
 */
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { PROBLEM_SCHEMA } from '../kernel/http/problem.ts';
import { providerGuard, providerOf } from '../providers/provider-auth.ts';
import { createOidcClient, getOidcClient, rotateClientSecret, updateOidcClient } from './oidc-client-service.ts';
import { OidcError } from './oidc-errors.ts';

export interface OidcClientRouteDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  publicUrl: string;
  /** Loopback http redirect URIs allowed (demo and test configuration only). */
  allowLoopback: boolean;
}

const Jwks = Type.Union([Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown()), { minItems: 1, maxItems: 10 }) }), Type.Null()]);
const Settings = Type.Object({
  redirect_uris: Type.Array(Type.String({ maxLength: 2000 }), { minItems: 1, maxItems: 20 }),
  require_par: Type.Boolean(),
  token_endpoint_auth_method: Type.Union([Type.Literal('client_secret_basic'), Type.Literal('private_key_jwt')]),
  jwks: Jwks,
  refresh_tokens: Type.Boolean(),
});
const Client = Type.Object({
  client_id: Type.String(), issuer: Type.String(), redirect_uris: Type.Array(Type.String()), require_par: Type.Boolean(),
  token_endpoint_auth_method: Type.String(), jwks: Jwks, refresh_tokens: Type.Boolean(), client_secret: Type.Optional(Type.String()),
});
const security = [{ apiKey: [] }];

export async function oidcClientRoutes(app: FastifyInstance, deps: OidcClientRouteDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addHook('onRequest', providerGuard(deps.pool));
  const opts = { allowLoopback: deps.allowLoopback, publicUrl: deps.publicUrl };

  r.get('/v1/provider/oidc-client', {
    schema: {
      tags: ['provider console'], summary: "The calling platform's OpenID client (no secret)", security,
      response: { 200: Client, 401: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA },
    },
  }, async (req) => getOidcClient(deps.pool, providerOf(req).id, deps.publicUrl));

  r.put('/v1/provider/oidc-client', {
    schema: {
      tags: ['provider console'], summary: 'Create (answering client_secret once) or change the OpenID client settings', security,
      body: Type.Partial(Settings, { additionalProperties: false }),
      response: { 200: Client, 201: Client, 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA },
    },
  }, async (req, reply) => {
    const provider = providerOf(req);
    try {
      return await updateOidcClient(deps.pool, provider, req.body, opts);
    } catch (e) {
      if (!(e instanceof OidcError) || e.code !== 'OIDC_CLIENT_NOT_FOUND') throw e;
    }
    return reply.status(201).send(await createOidcClient(deps.pool, await deps.ring(), provider, req.body, opts));
  });

  r.post('/v1/provider/oidc-client/secret', {
    schema: {
      tags: ['provider console'], summary: 'Rotate the client secret: the new one is answered once; the old one stops at once', security,
      response: { 200: Type.Object({ client_secret: Type.String() }), 401: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA },
    },
  }, async (req) => rotateClientSecret(deps.pool, await deps.ring(), providerOf(req).id));
}
