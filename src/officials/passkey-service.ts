/**
 * Passkeys of officials (WebAuthn Level 3 through `@simplewebauthn/server`): enrolment through a
 * one-time invitation, and sign-in with a discoverable credential. The relying party is the hub's
 * public URL (rpID = its hostname, origin = its origin); user verification is required in both
 * ceremonies, so a passkey is always "something you have" plus a PIN or biometric.
 *
 * Challenges are kept server-side, single use, for 5 minutes: the response's clientDataJSON names
 * the challenge it answers, and one DELETE ... RETURNING takes it, so a replayed response finds
 * no challenge (@see W3C WebAuthn Level 3 13.4.3 "Cryptographic Challenges").
 */
import type pg from 'pg';
import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON, type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { inTransaction } from '../kernel/db/pool.ts';
import { createSession, OFFICIAL_SELECT, officialOf, recordOfficialAction, type Official } from './official-auth.ts';
import { OfficialError } from './official-errors.ts';
import { consumeInvitation, getOfficial, pendingInvitation } from './official-service.ts';

export const CHALLENGE_TTL_MS = 5 * 60_000;
const CEREMONY_TIMEOUT_MS = 120_000;

export interface PasskeyDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  publicUrl: string;
}

export function relyingParty(publicUrl: string): { rpID: string; origin: string; rpName: string } {
  const url = new URL(publicUrl);
  return { rpID: url.hostname, origin: url.origin, rpName: 'idbind' };
}

/** WebAuthn's user handle of an official: the 16 bytes of their id (no personal data). */
function userHandle(officialId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(officialId.replace(/-/g, ''), 'hex'));
}

/** The challenge a response answers, read from its clientDataJSON (verified again by the library). */
function challengeOf(clientDataJSON: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(clientDataJSON, 'base64url').toString('utf8'));
    const c = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).challenge : undefined;
    if (typeof c === 'string' && /^[A-Za-z0-9_-]{16,128}$/.test(c)) return c;
  } catch {
    // fall through
  }
  throw new OfficialError('WEBAUTHN_CHALLENGE_INVALID');
}

async function storeChallenge(pool: pg.Pool, challenge: string, purpose: 'sign_in' | 'enrol', invitationId: string | null): Promise<void> {
  // Expired challenges are pruned here, so the table holds at most 5 minutes of them.
  await pool.query('DELETE FROM official_challenges WHERE expires_at < now()');
  await pool.query(
    'INSERT INTO official_challenges (challenge, purpose, invitation_id, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4))',
    [challenge, purpose, invitationId, CHALLENGE_TTL_MS / 1000],
  );
}

/** Takes a live challenge once (single use); undefined when unknown, used or expired. */
async function takeChallenge(pool: pg.Pool, challenge: string, purpose: 'sign_in' | 'enrol'): Promise<{ invitationId: string | null } | undefined> {
  const { rows } = await pool.query<{ invitation_id: string | null }>(
    'DELETE FROM official_challenges WHERE challenge = $1 AND purpose = $2 AND expires_at > now() RETURNING invitation_id',
    [challenge, purpose],
  );
  return rows[0] ? { invitationId: rows[0].invitation_id } : undefined;
}

/** Creation options for the official an invitation is for (the invitation is not consumed yet). */
export async function enrolOptions(deps: PasskeyDeps, token: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { invitationId, official } = await pendingInvitation(deps.pool, await deps.ring(), token);
  const rp = relyingParty(deps.publicUrl);
  const existing = await deps.pool.query<{ credential_id: string; transports: string[] }>(
    'SELECT credential_id, transports FROM official_passkeys WHERE official_id = $1', [official.id],
  );
  const options = await generateRegistrationOptions({
    rpName: rp.rpName, rpID: rp.rpID,
    userName: `${official.name} · ${official.authorityName}`, userDisplayName: official.name, userID: userHandle(official.id),
    attestationType: 'none', timeout: CEREMONY_TIMEOUT_MS,
    excludeCredentials: existing.rows.map((r) => ({ id: r.credential_id, transports: r.transports })),
    authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
  });
  await storeChallenge(deps.pool, options.challenge, 'enrol', invitationId);
  return options;
}

/**
 * Verifies a registration response, stores the passkey, consumes the invitation and opens a
 * session, all in one transaction with the audit records. The invitation is consumed only by a
 * response that verifies, so a failed attempt can be retried with the same link.
 */
export async function enrol(deps: PasskeyDeps, token: string, response: RegistrationResponseJSON): Promise<{ official: Official; sessionToken: string }> {
  const challenge = challengeOf(response.response.clientDataJSON);
  const taken = await takeChallenge(deps.pool, challenge, 'enrol');
  if (!taken) throw new OfficialError('WEBAUTHN_CHALLENGE_INVALID');
  const rp = relyingParty(deps.publicUrl);
  let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    verified = await verifyRegistrationResponse({
      response, expectedChallenge: challenge, expectedOrigin: rp.origin, expectedRPID: rp.rpID, requireUserVerification: true,
    });
  } catch {
    throw new OfficialError('PASSKEY_VERIFICATION_FAILED');
  }
  if (!verified.verified) throw new OfficialError('PASSKEY_VERIFICATION_FAILED');
  const credential = verified.registrationInfo.credential;
  const ring = await deps.ring();
  return inTransaction(deps.pool, async (client) => {
    const used = await consumeInvitation(client, ring, token);
    // The challenge must be the one issued for this invitation, not for another official's.
    if (used.invitationId !== taken.invitationId) throw new OfficialError('INVITATION_INVALID');
    const inserted = await client.query(
      `INSERT INTO official_passkeys (credential_id, official_id, public_key, counter, transports)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING`,
      [credential.id, used.officialId, Buffer.from(credential.publicKey), credential.counter, credential.transports ?? []],
    );
    if (inserted.rowCount !== 1) throw new OfficialError('PASSKEY_VERIFICATION_FAILED', 'this passkey is already registered');
    const sessionToken = await createSession(client, used.officialId);
    const r = await getOfficial(client, used.officialId);
    const official: Official = { id: r.id, name: r.name, authorityId: r.authorityId, authorityName: r.authorityName, authorityKind: r.authorityKind, roles: r.roles };
    await recordOfficialAction(client, { official, action: 'official.passkey_enrolled', subject: credential.id, detail: { invitation: used.invitationId } });
    await recordOfficialAction(client, { official, action: 'official.signed_in', detail: { method: 'passkey', passkey: credential.id } });
    return { official, sessionToken };
  });
}

/** Request options for a discoverable credential (no account named first). */
export async function signInOptions(deps: PasskeyDeps): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const options = await generateAuthenticationOptions({ rpID: relyingParty(deps.publicUrl).rpID, userVerification: 'required', timeout: CEREMONY_TIMEOUT_MS });
  await storeChallenge(deps.pool, options.challenge, 'sign_in', null);
  return options;
}

interface PasskeyRow {
  credential_id: string;
  public_key: Buffer;
  counter: string;
  transports: string[];
  id: string;
  display_name: string;
  roles: string[];
  status: 'active' | 'deactivated';
  authority_id: string;
  authority_name: string;
  authority_kind: string;
}

/** Verifies an assertion and opens a session; a deactivated official is refused at once. */
export async function signIn(deps: PasskeyDeps, response: AuthenticationResponseJSON): Promise<{ official: Official; sessionToken: string }> {
  const challenge = challengeOf(response.response.clientDataJSON);
  if (!(await takeChallenge(deps.pool, challenge, 'sign_in'))) throw new OfficialError('WEBAUTHN_CHALLENGE_INVALID');
  const { rows } = await deps.pool.query<PasskeyRow>(
    `${OFFICIAL_SELECT.replace('SELECT ', 'SELECT p.credential_id, p.public_key, p.counter, p.transports, ')}
     JOIN official_passkeys p ON p.official_id = o.id WHERE p.credential_id = $1`,
    [response.id],
  );
  const row = rows[0];
  if (!row) throw new OfficialError('PASSKEY_NOT_RECOGNISED');
  const official = officialOf(row);
  if (row.status !== 'active') {
    await recordOfficialAction(deps.pool, { official, action: 'official.sign_in_refused', detail: { reason: 'deactivated', passkey: row.credential_id } });
    throw new OfficialError('OFFICIAL_DEACTIVATED');
  }
  const handle = response.response.userHandle;
  if (handle !== undefined && handle !== Buffer.from(userHandle(official.id)).toString('base64url')) throw new OfficialError('PASSKEY_NOT_RECOGNISED');
  const rp = relyingParty(deps.publicUrl);
  let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    result = await verifyAuthenticationResponse({
      response, expectedChallenge: challenge, expectedOrigin: rp.origin, expectedRPID: rp.rpID, requireUserVerification: true,
      credential: { id: row.credential_id, publicKey: new Uint8Array(row.public_key), counter: Number(row.counter), transports: row.transports },
    });
  } catch {
    throw new OfficialError('PASSKEY_NOT_RECOGNISED');
  }
  if (!result.verified) throw new OfficialError('PASSKEY_NOT_RECOGNISED');
  return inTransaction(deps.pool, async (client) => {
    // Conditional on the counter read: of two uses of one signature counter, one wins (a cloned authenticator shows).
    const updated = await client.query(
      'UPDATE official_passkeys SET counter = $2, last_used_at = now() WHERE credential_id = $1 AND counter = $3',
      [row.credential_id, result.authenticationInfo.newCounter, row.counter],
    );
    if (updated.rowCount !== 1) throw new OfficialError('PASSKEY_NOT_RECOGNISED');
    const sessionToken = await createSession(client, official.id);
    await recordOfficialAction(client, { official, action: 'official.signed_in', detail: { method: 'passkey', passkey: row.credential_id } });
    return { official, sessionToken };
  });
}
