/**
 * Officials' HTTP API (issue 5 "Officials and the authority console"), thin over the services:
 *
 * - the regulator's admin API (admin token): authorities and officials, invitations, deactivation;
 * - the authority console's sign-in: passkey enrolment through an invitation, passkey sign-in,
 *   sign-out and `GET /v1/authority/me`;
 * - demo mode only: the demo officials and a sign-in as one of them without a passkey.
 *
 * Session cookies are set only here (`idbind_official`, HttpOnly, SameSite=Strict, Path=/, Secure
 * when the public URL is https).
 */
import { createHmac } from 'node:crypto';
import { Type, type Static } from 'typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { PROBLEM_RETRY_SCHEMA, PROBLEM_SCHEMA } from '../kernel/http/problem.ts';
import { hitLimits } from '../kernel/db/rate-counters.ts';
import { VerificationError } from '../verification/verification-errors.ts';
import {
  cookieValue, createSession, endSession, officialGuard, recordOfficialAction, SESSION_COOKIE, sessionCookie, sessionOfficial, type Official,
} from './official-auth.ts';
import { OfficialError } from './official-errors.ts';
import {
  createAuthority, createOfficial, deactivateOfficial, getOfficial, inviteAgain, isUuid, listAuthorities, listOfficials,
  type Authority, type OfficialRecord,
} from './official-service.ts';
import { enrol, enrolOptions, signIn, signInOptions } from './passkey-service.ts';
import { ensureDemoAuthorities, isDemoOfficial, listDemoOfficials } from './demo-officials.ts';

export interface OfficialRouteDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  publicUrl: string;
  adminGuard: (request: FastifyRequest) => Promise<void>;
  mode: 'demo' | 'production';
  /** WebAuthn options (sign-in and enrolment together) per client IP per minute; default 30. */
  optionsPerMinute?: number;
}

export const OPTIONS_PER_MINUTE = 30;

const Kind = Type.Union([Type.Literal('police'), Type.Literal('procuracy'), Type.Literal('court'), Type.Literal('regulator')]);
const Role = Type.Union([Type.Literal('requester'), Type.Literal('approver'), Type.Literal('auditor'), Type.Literal('administrator')]);

const AuthoritySchema = Type.Object({ id: Type.String(), name: Type.String(), kind: Type.String(), created_at: Type.String({ format: 'date-time' }) });
const AuthorityRef = Type.Object({ id: Type.String(), name: Type.String(), kind: Type.String() });
const MeSchema = Type.Object({ id: Type.String(), name: Type.String(), authority: AuthorityRef, roles: Type.Array(Type.String()) });
const OfficialSchema = Type.Object({
  id: Type.String(), name: Type.String(), authority: AuthorityRef, roles: Type.Array(Type.String()),
  status: Type.Union([Type.Literal('active'), Type.Literal('deactivated')]),
  passkeys: Type.Integer(), created_at: Type.String({ format: 'date-time' }), deactivated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
const Invited = Type.Object({ official: OfficialSchema, invitation_url: Type.String(), invitation_expires_at: Type.String({ format: 'date-time' }) });
/** WebAuthn options as `@simplewebauthn/server` produces them (PublicKeyCredential*OptionsJSON). */
const WebAuthnOptions = Type.Object({}, { additionalProperties: true, description: 'PublicKeyCredentialCreationOptionsJSON / PublicKeyCredentialRequestOptionsJSON (WebAuthn Level 3 5.1)' });
/** A credential as the browser serialises it (PublicKeyCredential.toJSON()); checked by the WebAuthn verification, not here. */
const CredentialJson = Type.Object({
  id: Type.String({ maxLength: 1400 }), rawId: Type.String({ maxLength: 1400 }), type: Type.Literal('public-key'),
  response: Type.Object({ clientDataJSON: Type.String({ maxLength: 8192 }) }, { additionalProperties: true }),
  clientExtensionResults: Type.Optional(Type.Object({}, { additionalProperties: true })),
  authenticatorAttachment: Type.Optional(Type.String()),
}, { additionalProperties: true });
const Token = Type.String({ minLength: 1, maxLength: 200 });
const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

function authorityView(a: Authority): Static<typeof AuthoritySchema> {
  return { id: a.id, name: a.name, kind: a.kind, created_at: a.createdAt.toISOString() };
}

export function meView(o: Official): Static<typeof MeSchema> {
  return { id: o.id, name: o.name, authority: { id: o.authorityId, name: o.authorityName, kind: o.authorityKind }, roles: o.roles };
}

function officialView(o: OfficialRecord): Static<typeof OfficialSchema> {
  return {
    ...meView(o), status: o.status, passkeys: o.passkeys, created_at: o.createdAt.toISOString(), deactivated_at: o.deactivatedAt?.toISOString() ?? null,
  };
}

const adminSecurity = [{ adminToken: [] }];
const tags = ['authority console'];
const adminTags = ['officials'];

export async function officialRoutes(scope: FastifyInstance, deps: OfficialRouteDeps): Promise<void> {
  const secure = new URL(deps.publicUrl).protocol === 'https:';
  const signedIn = (reply: FastifyReply, token: string) => reply.header('set-cookie', sessionCookie(token, secure)).header('cache-control', 'no-store');

  // The regulator's admin API, behind the admin token.
  await scope.register(async (admin) => {
    const r = admin.withTypeProvider<TypeBoxTypeProvider>();
    r.addHook('onRequest', deps.adminGuard);
    r.post('/v1/admin/authorities', {
      schema: {
        tags: adminTags, summary: 'Create an authority (police unit, procuracy, court, regulator)', security: adminSecurity,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }), kind: Kind }, { additionalProperties: false }),
        response: { 201: Type.Object({ authority: AuthoritySchema }), 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 409: PROBLEM_SCHEMA },
      },
    }, async (req, reply) => reply.status(201).send({ authority: authorityView(await createAuthority(deps.pool, req.body)) }));

    r.get('/v1/admin/authorities', {
      schema: { tags: adminTags, summary: 'Every authority', security: adminSecurity, response: { 200: Type.Object({ authorities: Type.Array(AuthoritySchema) }), 401: PROBLEM_SCHEMA } },
    }, async () => ({ authorities: (await listAuthorities(deps.pool)).map(authorityView) }));

    r.post('/v1/admin/officials', {
      schema: {
        tags: adminTags, summary: 'Create an official; answers the one-time invitation link (valid 72 hours) to enrol a passkey', security: adminSecurity,
        body: Type.Object({
          authority_id: Type.String({ maxLength: 64 }), name: Type.String({ minLength: 1, maxLength: 100 }),
          roles: Type.Array(Role, { minItems: 1, maxItems: 4, uniqueItems: true }),
        }, { additionalProperties: false }),
        response: { 201: Invited, 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA },
      },
    }, async (req, reply) => {
      const out = await createOfficial(deps.pool, await deps.ring(), deps.publicUrl, { authorityId: req.body.authority_id, name: req.body.name, roles: req.body.roles });
      return reply.status(201).header('cache-control', 'no-store')
        .send({ official: officialView(out.official), invitation_url: out.invitation.url, invitation_expires_at: out.invitation.expiresAt.toISOString() });
    });

    r.get('/v1/admin/officials', {
      schema: {
        tags: adminTags, summary: 'Every official (of one authority with authority_id)', security: adminSecurity,
        querystring: Type.Object({ authority_id: Type.Optional(Type.String({ maxLength: 64 })) }),
        response: { 200: Type.Object({ officials: Type.Array(OfficialSchema) }), 401: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA },
      },
    }, async (req) => ({ officials: (await listOfficials(deps.pool, { authorityId: req.query.authority_id })).map(officialView) }));

    r.get('/v1/admin/officials/:id', {
      schema: { tags: adminTags, summary: 'One official', security: adminSecurity, params: IdParams, response: { 200: OfficialSchema, 401: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA } },
    }, async (req) => officialView(await getOfficial(deps.pool, req.params.id)));

    r.post('/v1/admin/officials/:id/invitation', {
      schema: {
        tags: adminTags, summary: 'A new invitation link (a lost passkey, an expired link); earlier unused links stop working', security: adminSecurity,
        params: IdParams, response: { 201: Invited, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA },
      },
    }, async (req, reply) => {
      const out = await inviteAgain(deps.pool, await deps.ring(), deps.publicUrl, req.params.id);
      return reply.status(201).header('cache-control', 'no-store')
        .send({ official: officialView(out.official), invitation_url: out.invitation.url, invitation_expires_at: out.invitation.expiresAt.toISOString() });
    });

    r.post('/v1/admin/officials/:id/deactivate', {
      schema: {
        tags: adminTags, summary: 'Deactivate an official at once: sessions ended, sign-in and invitations refused', security: adminSecurity,
        params: IdParams, response: { 200: OfficialSchema, 401: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA },
      },
    }, async (req) => officialView(await deactivateOfficial(deps.pool, req.params.id)));
  });

  // The authority console's sign-in.
  const r = scope.withTypeProvider<TypeBoxTypeProvider>();
  const passkeys = { pool: deps.pool, ring: deps.ring, publicUrl: deps.publicUrl };
  /**
   * Each options call stores a challenge: limited per client IP (RATE_LIMITED with retry_after).
   * The bucket is a keyed hash of the address, never the address (src/kernel/db/rate-counters.ts).
   */
  const limitOptions = async (req: FastifyRequest): Promise<void> => {
    const key = (await deps.ring()).currentBlindIndex.key;
    const ip = createHmac('sha256', key).update('rate-bucket:authority-options-ip\u0000').update(req.ip).digest('base64url').slice(0, 27);
    const limited = await hitLimits(deps.pool, [{ bucket: `authority-options:ip:${ip}`, windowSeconds: 60, max: deps.optionsPerMinute ?? OPTIONS_PER_MINUTE, label: 'client_ip' }]);
    if (limited) throw new VerificationError('RATE_LIMITED', `limit: ${limited.label}`, { limit: limited.label, retry_after: limited.retryAfterSeconds });
  };

  r.post('/v1/authority/enrol/options', {
    schema: {
      tags, summary: 'Passkey creation options for the official an invitation is for (the invitation is not used yet)',
      body: Type.Object({ token: Token }, { additionalProperties: false }),
      response: { 200: WebAuthnOptions, 400: PROBLEM_SCHEMA, 429: PROBLEM_RETRY_SCHEMA },
    },
  }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    await limitOptions(req);
    return enrolOptions(passkeys, req.body.token);
  });

  r.post('/v1/authority/enrol', {
    schema: {
      tags, summary: 'Enrol a passkey: verifies the registration, stores the passkey, uses the invitation and signs in',
      body: Type.Object({ token: Token, response: CredentialJson }, { additionalProperties: false }),
      response: { 201: MeSchema, 400: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA },
    },
  }, async (req, reply) => {
    const out = await enrol(passkeys, req.body.token, req.body.response as unknown as RegistrationResponseJSON);
    return signedIn(reply, out.sessionToken).status(201).send(meView(out.official));
  });

  r.post('/v1/authority/sign-in/options', {
    schema: { tags, summary: 'Passkey request options (a single-use challenge, valid 5 minutes)', response: { 200: WebAuthnOptions, 429: PROBLEM_RETRY_SCHEMA } },
  }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    await limitOptions(req);
    return signInOptions(passkeys);
  });

  r.post('/v1/authority/sign-in', {
    schema: {
      tags, summary: 'Sign in with a passkey; sets the idbind_official session cookie',
      body: Type.Object({ response: CredentialJson }, { additionalProperties: false }),
      response: { 200: MeSchema, 400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 403: PROBLEM_SCHEMA },
    },
  }, async (req, reply) => {
    const out = await signIn(passkeys, req.body.response as unknown as AuthenticationResponseJSON);
    return signedIn(reply, out.sessionToken).send(meView(out.official));
  });

  r.post('/v1/authority/sign-out', {
    schema: { tags, summary: 'End this session (always answers 204 and clears the cookie)', response: { 204: Type.Null() } },
  }, async (req, reply) => {
    const token = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (token) {
      const official = await sessionOfficial(deps.pool, token);
      if (await endSession(deps.pool, token) && official) await recordOfficialAction(deps.pool, { official, action: 'official.signed_out' });
    }
    return reply.header('set-cookie', sessionCookie('', secure)).header('cache-control', 'no-store').status(204).send(null);
  });

  r.get('/v1/authority/me', {
    preHandler: officialGuard({ pool: deps.pool }),
    schema: { tags, summary: 'The signed-in official: name, authority, roles', security: [{ officialSession: [] }], response: { 200: MeSchema, 401: PROBLEM_SCHEMA } },
  }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    return meView(req.official!);
  });

  if (deps.mode === 'demo') {
    // Demo mode only: never registered in production.
    r.get('/v1/demo/officials', {
      schema: { tags: ['demo'], summary: 'Demo mode only: the demo officials one can sign in as', response: { 200: Type.Object({ officials: Type.Array(MeSchema) }) } },
    }, async () => {
      // Seeded on first use as well as at start, as /v1/demo/session does with the demo platforms.
      await ensureDemoAuthorities(deps.pool, await deps.ring(), deps.publicUrl);
      return { officials: (await listDemoOfficials(deps.pool)).map(meView) };
    });

    r.post('/v1/demo/officials/:id/session', {
      schema: {
        tags: ['demo'], summary: 'Demo mode only: sign in as a demo official without a passkey', params: IdParams,
        response: { 200: MeSchema, 403: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA },
      },
    }, async (req, reply) => {
      if (!isUuid(req.params.id) || !(await isDemoOfficial(deps.pool, req.params.id))) throw new OfficialError('OFFICIAL_NOT_FOUND', 'not an active demo official');
      const token = await createSession(deps.pool, req.params.id);
      const official = (await listDemoOfficials(deps.pool)).find((o) => o.id === req.params.id)!;
      await recordOfficialAction(deps.pool, { official, action: 'official.signed_in', detail: { method: 'demo' } });
      return signedIn(reply, token).send(meView(official));
    });
  }
}
