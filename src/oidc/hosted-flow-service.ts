/**
 * The hosted verification flow (issue 4 "Hosted verification pages", "Guardians", "Claims"):
 * what happens between the OpenID Provider sending the browser to `/verify/<uid>` and the
 * browser going back to the platform.
 *
 *   choose_method ──phone──▶ phone_code ──code──▶ identified
 *         │                                         │
 *         └──────eID (broker, callback)─────────────┤
 *                                                   ▼
 *      under 16: guardian_intro (role guardian) ──phone/eID──▶ guardian checked
 *                                                   ▼
 *      statutory claims asked: consent ──agree──▶ finished (bound, grant, redirect to the provider)
 *
 * Every step is one UPDATE guarded by the stage (and role) it expects (hosted-flow-repository.ts
 * changeFlow), so a double submit or a second tab cannot apply a step twice. The phone steps
 * call the phone API's own service (the same checks, budgets and errors); the eID steps the
 * broker. The flow binds the platform's `account_ref` exactly as the phone API does
 * (bindAccountInTransaction: accounts-per-person limit, events, access records), then answers
 * oidc-provider's interaction with `login` (accountId `<person>.<flow uid>`, `acr` the level
 * reached, `amr`) and `consent` (a Grant holding only what was agreed).
 *
 * What the platform learns (DESIGN.md invariant 1): the pseudonym, the level, `verified`, the
 * age flags and `minor`; never who a guardian is, never why a number was refused. Statutory
 * claims only with a recorded consent (see oidc-claims.ts).
 *
 * Portal mode (issue 5, the citizen portal; src/citizen/portal-client.ts): a flow of the provider
 * of kind `portal` only identifies the person, with the same checks (the phone's SIM-change
 * window and junk flags, the eID's level): nothing is bound, no guardian is asked (a person of
 * any age may see their own data), no birth date is read, the phone step starts with purpose
 * `identify` (no accounts-per-person limit), and the login is `<person id>.portal` with the
 * person's pseudonym at the portal created if missing (pairwiseIdentifier reads it).
 */
import type pg from 'pg';
import type Provider from 'oidc-provider';
import type { ClaimsParameter } from 'oidc-provider';
import { uuidv7 } from '../kernel/ids.ts';
import { inTransaction } from '../kernel/db/pool.ts';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { recordPersonAccess } from '../access/access-records.ts';
import { bindAccountInTransaction, newPseudonym } from '../bindings/binding-service.ts';
import { lockPseudonym } from '../bindings/binding-repository.ts';
import { BindingError } from '../bindings/binding-errors.ts';
import { VerificationError } from '../verification/verification-errors.ts';
import { findProvider } from '../providers/provider-repository.ts';
import { providerFromRow, type Provider as Platform } from '../providers/provider-service.ts';
import {
  confirmCodeIdentity, GUARDIAN_AGE, MAX_SENDS, parsePhone, RESEND_INTERVAL_SECONDS, resendCode, startVerification, type VerificationDeps,
} from '../verification/verification-service.ts';
import { findVerification, lockEligibleHolder } from '../verification/verification-repository.ts';
import type { EidBroker, EidCookie } from './eid/eid-broker.ts';
import { EidError } from './eid/eid-errors.ts';
import {
  changeFlow, findFlow, insertConsent, insertFlow, type FlowRole, type FlowRow, type FlowStage, type Level, type StatutoryClaim,
} from './hosted-flow-repository.ts';
import { OidcError } from './oidc-errors.ts';
import { CLAIMS, LEVELS } from './oidc-provider.ts';
import { statutoryClaimsAsked } from './oidc-claims.ts';
import { openPerson } from './person-records.ts';

/** The login accountId's second part for a portal sign-in (src/citizen/portal-client.ts PORTAL_ACCOUNT). */
const PORTAL_ACCOUNT = 'portal';

/** A guardian must be an adult (Decree 147/2024 Art. 27; Civil Code Art. 20: 18). */
export const GUARDIAN_MIN_AGE = 18;

/** What the consent screen says the statutory claims are for (shown to the person, recorded with the consent). */
export const STATUTORY_PURPOSE =
  'Lưu trữ thông tin xác thực của chủ tài khoản theo quy định / Keep the verified identity of the account holder, as the law requires of this platform';
export const STATUTORY_LEGAL_BASIS = 'Nghị định 147/2024/NĐ-CP, Điều 27 / Decree 147/2024/ND-CP, Article 27';

export interface HostedFlowDeps {
  pool: pg.Pool;
  ring: () => Promise<KeyRing>;
  verification: VerificationDeps;
  provider: () => Promise<Provider>;
  /** The national eID broker; undefined when none is configured (the method is then not offered). */
  eid: EidBroker | undefined;
  /** Called after a binding changed (to wake the webhook dispatcher). */
  onBindingChange?: () => void;
}

export type FlowMethod = 'phone' | 'eid';

/** The citizen portal's flows identify the person and bind nothing (see the header). */
export function isPortal(platform: Platform): boolean {
  // ProviderKind leaves `portal` out on purpose: the portal is never managed through the providers API.
  return (platform.kind as string) === 'portal';
}

/** The page's view of a flow (web/src/api/verify.ts FlowState). */
export interface FlowState {
  platform: { name: string };
  stage: FlowStage;
  role: FlowRole;
  methods: FlowMethod[];
  min_level: Level;
  phone: { masked: string; expires_at: string; attempts_remaining: number; resend_after: string | null } | null;
  consent: { claims: StatutoryClaim[]; purpose: string; legal_basis: string } | null;
  error: { code: string; detail?: string } | null;
  redirect_url?: string;
  ui_locales?: string;
}

const rank = (level: Level): number => LEVELS.indexOf(level);
const isLevel = (v: unknown): v is Level => typeof v === 'string' && (LEVELS as readonly string[]).includes(v);

/** The interaction of oidc-provider behind a flow: the page's browser must hold its cookie. */
type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * The lowest level that satisfies the request (issue 4: "a higher level satisfies a lower
 * request"): the least of the known `acr_values` (any of them will do, OIDC Core 3.1.2.1), and
 * at least the least of an essential `acr` claim's values (OIDC Core 5.5.1.1). Undefined: only
 * unknown values were asked for, which nothing can satisfy.
 */
export function requiredLevel(params: Record<string, unknown>): Level | undefined {
  let required: Level = 'low';
  const least = (values: unknown[]): Level | undefined => {
    const known = values.filter(isLevel);
    if (values.length > 0 && known.length === 0) return undefined;
    return known.sort((a, b) => rank(a) - rank(b))[0];
  };
  if (typeof params.acr_values === 'string' && params.acr_values.trim() !== '') {
    const l = least(params.acr_values.trim().split(/\s+/));
    if (!l) return undefined;
    required = l;
  }
  if (typeof params.claims === 'string') {
    let claims: { id_token?: { acr?: { essential?: boolean; value?: unknown; values?: unknown[] } }; userinfo?: { acr?: { essential?: boolean; value?: unknown; values?: unknown[] } } };
    try {
      claims = JSON.parse(params.claims) as typeof claims;
    } catch {
      claims = {};
    }
    for (const acr of [claims.id_token?.acr, claims.userinfo?.acr]) {
      if (!acr?.essential) continue;
      const values = acr.values ?? (acr.value !== undefined ? [acr.value] : []);
      if (values.length === 0) continue;
      const l = least(values);
      if (!l) return undefined;
      if (rank(l) > rank(required)) required = l;
    }
  }
  return required;
}

/** The statutory claims an authorization asks for (scope `profile`/`phone`, or the `claims` parameter); none for a minimal platform. */
export function requestedStatutoryClaims(platform: Platform, params: Record<string, unknown>): StatutoryClaim[] {
  if (platform.legalProfile !== 'statutory') return [];
  let claims: ClaimsParameter | undefined;
  try {
    claims = typeof params.claims === 'string' ? (JSON.parse(params.claims) as ClaimsParameter) : undefined;
  } catch {
    // oidc-provider has already refused a malformed claims parameter.
  }
  return statutoryClaimsAsked(typeof params.scope === 'string' ? params.scope : '', claims);
}

/** "09•• ••• 678": enough for the person to recognise the number, nothing more. */
export function maskNumber(e164: string): string {
  const national = e164.replace(/^\+84/, '');
  return `0${national.slice(0, 1)}•• ••• ${national.slice(-3)}`;
}

async function platformOf(pool: pg.Pool, id: string): Promise<Platform> {
  const row = await findProvider(pool, id);
  if (!row || row.status !== 'active') throw new OidcError('FLOW_NOT_FOUND', 'the platform of this flow is not active');
  return providerFromRow(row);
}

/**
 * The flow of `uid`, for the browser holding oidc-provider's interaction cookie (scoped to
 * `/verify/<uid>`): another browser, or a guessed uid, gets FLOW_NOT_FOUND. The first call
 * creates the flow from the authorization request.
 */
export async function flowForBrowser(deps: HostedFlowDeps, uid: string, req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<{ flow: FlowRow; platform: Platform; interaction: Interaction }> {
  const provider = await deps.provider();
  let interaction: Interaction;
  try {
    interaction = await provider.interactionDetails(req, res);
  } catch {
    const stale = await findFlow(deps.pool, uid);
    if (stale && stale.expires_at.getTime() <= Date.now()) throw new OidcError('FLOW_EXPIRED');
    throw new OidcError('FLOW_NOT_FOUND');
  }
  if (interaction.uid !== uid) throw new OidcError('FLOW_NOT_FOUND', 'this browser is in another verification');
  const params = interaction.params as Record<string, unknown>;
  const clientId = String(params.client_id);
  let flow = await findFlow(deps.pool, uid);
  const platform = await platformOf(deps.pool, flow?.provider_id ?? clientId);
  if (!flow) {
    const level = requiredLevel(params);
    await insertFlow(deps.pool, {
      id: uuidv7(), uid, providerId: platform.id, accountRef: String(params.account_ref), minLevel: level ?? 'high',
      statutoryClaims: requestedStatutoryClaims(platform, params), expiresAt: new Date(interaction.exp * 1000),
      errorCode: level ? null : 'LEVEL_NOT_REACHED',
    });
    flow = (await findFlow(deps.pool, uid))!;
  }
  if (flow.expires_at.getTime() <= Date.now()) throw new OidcError('FLOW_EXPIRED');
  return { flow, platform, interaction };
}

/** The methods open at this stage: phone only when `low` is enough (or for the guardian), eID when configured. */
function methodsOf(deps: HostedFlowDeps, flow: FlowRow): FlowMethod[] {
  if (flow.error_code === 'LEVEL_NOT_REACHED' && flow.role === 'subject' && flow.stage === 'choose_method' && !deps.eid) return [];
  const methods: FlowMethod[] = [];
  if (flow.role === 'guardian' || flow.min_level === 'low') methods.push('phone');
  if (deps.eid) methods.push('eid');
  return methods;
}

/** The claims the consent screen asks for: `phone_number` only when the person proved a number. */
function consentClaims(flow: FlowRow): StatutoryClaim[] {
  return flow.statutory_claims.filter((c) => c !== 'phone_number' || (flow.subject_method === 'phone' && flow.subject_subscription_id !== null));
}

export async function flowState(deps: HostedFlowDeps, flow: FlowRow, platform: Platform, interaction?: Interaction): Promise<FlowState> {
  let phone: FlowState['phone'] = null;
  if (flow.stage === 'phone_code' && flow.verification_id) {
    const v = await findVerification(deps.pool, platform.id, flow.verification_id);
    if (v && v.code_expires_at) {
      const attempts = Math.max(0, deps.verification.config.codeAttempts - v.attempts);
      const resendAt = v.last_sent_at ? new Date(v.last_sent_at.getTime() + RESEND_INTERVAL_SECONDS * 1000) : null;
      phone = {
        masked: flow.phone_hint ?? '',
        expires_at: v.code_expires_at.toISOString(),
        attempts_remaining: attempts,
        resend_after: v.sends >= MAX_SENDS || attempts === 0 || !resendAt || resendAt.getTime() <= Date.now() ? null : resendAt.toISOString(),
      };
    }
  }
  const state: FlowState = {
    platform: { name: platform.name },
    stage: flow.stage,
    role: flow.role,
    methods: flow.stage === 'choose_method' || flow.stage === 'guardian_intro' ? methodsOf(deps, flow) : [],
    min_level: flow.min_level,
    phone,
    consent: flow.stage === 'consent' ? { claims: consentClaims(flow), purpose: STATUTORY_PURPOSE, legal_basis: STATUTORY_LEGAL_BASIS } : null,
    error: flow.error_code ? { code: flow.error_code, ...(flow.error_detail ? { detail: flow.error_detail } : {}) } : null,
  };
  if (flow.stage === 'finished' && flow.redirect_url) state.redirect_url = flow.redirect_url;
  const locales = (interaction?.params as Record<string, unknown> | undefined)?.ui_locales;
  if (typeof locales === 'string') state.ui_locales = locales;
  return state;
}

function stepClosed(): OidcError {
  return new OidcError('FLOW_STEP_CLOSED');
}

/** `POST …/phone {phone}`: a code to the number, for the person (choose_method) or their guardian (guardian_intro). */
export async function startPhone(deps: HostedFlowDeps, flow: FlowRow, platform: Platform, phone: string, clientIp: string): Promise<void> {
  const from: FlowStage[] = flow.role === 'guardian' ? ['guardian_intro'] : ['choose_method'];
  if (!from.includes(flow.stage)) throw stepClosed();
  if (flow.role === 'subject' && flow.min_level !== 'low') throw new OidcError('METHOD_NOT_OFFERED', `the platform asks for level ${flow.min_level}; a phone gives low`);
  const started = await startVerification(deps.verification, platform, {
    accountRef: flow.account_ref, phone, clientIp, purpose: flow.role === 'guardian' || isPortal(platform) ? 'identify' : 'bind',
  });
  const e164 = parsePhone(phone);
  if (!(await changeFlow(deps.pool, flow.uid, from, { stage: 'phone_code', verification_id: started.id, phone_hint: maskNumber(e164), error_code: null, error_detail: null }, flow.role))) {
    throw stepClosed();
  }
}

export async function resendPhone(deps: HostedFlowDeps, flow: FlowRow, platform: Platform, clientIp: string): Promise<void> {
  if (flow.stage !== 'phone_code' || !flow.verification_id) throw stepClosed();
  await resendCode(deps.verification, platform, flow.verification_id, { clientIp });
}

/** `POST …/phone/restart`: another number (or the other method): back to where the number was asked. */
export async function restartPhone(deps: HostedFlowDeps, flow: FlowRow): Promise<void> {
  const to: FlowStage = flow.role === 'guardian' ? 'guardian_intro' : 'choose_method';
  if (!(await changeFlow(deps.pool, flow.uid, ['phone_code'], { stage: to, verification_id: null, phone_hint: null }, flow.role))) throw stepClosed();
}

/** `POST …/phone/confirm {code}`: the code checked exactly as the phone API checks it, then the person identified. */
export async function confirmPhone(deps: HostedFlowDeps, flow: FlowRow, platform: Platform, code: string): Promise<void> {
  if (flow.stage !== 'phone_code' || !flow.verification_id) throw stepClosed();
  const identity = await confirmCodeIdentity(deps.verification, platform, flow.verification_id, code);
  await identified(deps, flow.uid, platform, {
    role: flow.role, personId: identity.personId, method: 'phone', level: 'low', subscriptionId: identity.subscriptionId,
    fromStages: ['phone_code'],
  });
}

/** `POST …/eid`: the browser goes to the national eID; the broker's callback comes back through `eidVerified`. */
export async function startEid(deps: HostedFlowDeps, flow: FlowRow): Promise<{ redirectUrl: string; cookie: EidCookie }> {
  if (!deps.eid) throw new OidcError('METHOD_NOT_OFFERED', 'no national eID is configured');
  const from: FlowStage[] = flow.role === 'guardian' ? ['guardian_intro'] : ['choose_method'];
  if (!from.includes(flow.stage)) throw stepClosed();
  return deps.eid.begin({ flowUid: flow.uid, role: flow.role, minLevel: flow.role === 'guardian' ? 'low' : flow.min_level });
}

/** The broker's callback: the person (or guardian) signed in at the national eID. */
export async function eidVerified(deps: HostedFlowDeps, result: { flowUid: string; role: FlowRole; personId: string; level: Level }): Promise<void> {
  const flow = await findFlow(deps.pool, result.flowUid);
  if (!flow || flow.expires_at.getTime() <= Date.now()) throw new OidcError('FLOW_EXPIRED');
  const platform = await platformOf(deps.pool, flow.provider_id);
  const from: FlowStage[] = result.role === 'guardian' ? ['guardian_intro'] : ['choose_method'];
  if (flow.role !== result.role || !from.includes(flow.stage)) throw stepClosed();
  // The broker checked the level against the flow's; checked again here because the flow is the authority.
  if (result.role === 'subject' && rank(result.level) < rank(flow.min_level)) throw new EidError('LEVEL_NOT_REACHED', undefined, { flowUid: flow.uid });
  await identified(deps, flow.uid, platform, { role: result.role, personId: result.personId, method: 'eid', level: result.level, subscriptionId: null, fromStages: from });
}

/** The eID step failed: the page shows the code (docs/errors.md) and offers the methods again. */
export async function eidFailed(deps: HostedFlowDeps, flowUid: string, code: string): Promise<void> {
  const flow = await findFlow(deps.pool, flowUid);
  if (!flow || flow.stage === 'finished') return;
  await changeFlow(deps.pool, flowUid, [flow.stage], { error_code: code, error_detail: null });
}

/**
 * A person proved who they are in this flow. The subject: under 16, a guardian is asked for;
 * else consent (statutory claims asked) or finish. A guardian: checked against the minor's
 * registered guardians, then consent or finish. A refused guardian leaves the flow at
 * guardian_intro for another adult, with the refusal's code on the page.
 */
async function identified(deps: HostedFlowDeps, uid: string, platform: Platform, who: {
  role: FlowRole; personId: string; method: FlowMethod; level: Level; subscriptionId: string | null; fromStages: FlowStage[];
}): Promise<void> {
  const ring = await deps.ring();
  const flow = (await findFlow(deps.pool, uid))!;
  if (who.role === 'subject' && isPortal(platform)) {
    // The person signing in to their own view: alive is all that is checked (a plain column; no
    // sealed field is opened), whatever their age.
    const alive = await deps.pool.query<{ ok: boolean }>(`SELECT status = 'alive' AS ok FROM persons WHERE id = $1`, [who.personId]);
    if (alive.rows[0]?.ok !== true) throw new OidcError('FLOW_STEP_CLOSED', 'the person cannot sign in');
    const change = {
      subject_person_id: who.personId, subject_method: who.method, subject_level: who.level, subject_subscription_id: who.subscriptionId,
      verification_id: who.method === 'phone' ? flow.verification_id : null, phone_hint: null, error_code: null, error_detail: null,
    } as const;
    if (!(await changeFlow(deps.pool, uid, who.fromStages, change, 'subject'))) throw stepClosed();
    await finish(deps, uid, platform, who.fromStages);
    return;
  }
  if (who.role === 'subject') {
    const person = await openPerson(deps.pool, ring, who.personId);
    if (!person || person.status !== 'alive') throw new OidcError('FLOW_STEP_CLOSED', 'the person cannot verify');
    const minor = person.age < GUARDIAN_AGE;
    const next: FlowStage = minor ? 'guardian_intro' : flow.statutory_claims.length > 0 ? 'consent' : 'finished';
    const change = {
      subject_person_id: who.personId, subject_method: who.method, subject_level: who.level, subject_subscription_id: who.subscriptionId,
      verification_id: who.method === 'phone' ? flow.verification_id : null,
      phone_hint: null, error_code: null, error_detail: null,
    } as const;
    await recordPersonAccess(deps.pool, {
      personId: who.personId, purpose: 'age_check', actor: `provider:${platform.id}`, detail: { provider: platform.name, flow: 'hosted', method: who.method },
    });
    if (minor) {
      if (!(await changeFlow(deps.pool, uid, who.fromStages, { ...change, stage: 'guardian_intro', role: 'guardian' }, 'subject'))) throw stepClosed();
      return;
    }
    if (next === 'consent') {
      if (!(await changeFlow(deps.pool, uid, who.fromStages, { ...change, stage: 'consent' }, 'subject'))) throw stepClosed();
      return;
    }
    if (!(await changeFlow(deps.pool, uid, who.fromStages, change, 'subject'))) throw stepClosed();
    await finish(deps, uid, platform, who.fromStages);
    return;
  }

  // The guardian (Decree 147/2024 Art. 27): an adult listed among the minor's guardians in the population registry.
  const minorPerson = await openPerson(deps.pool, ring, flow.subject_person_id!);
  const guardian = await openPerson(deps.pool, ring, who.personId);
  await recordPersonAccess(deps.pool, {
    personId: flow.subject_person_id!, purpose: 'guardian_check', actor: `provider:${platform.id}`, detail: { provider: platform.name, method: who.method },
  });
  let refusal: OidcError | undefined;
  if (!minorPerson || !guardian || guardian.status !== 'alive') refusal = new OidcError('GUARDIAN_NOT_LISTED');
  else if (who.personId === flow.subject_person_id) refusal = new OidcError('GUARDIAN_SAME_PERSON');
  else if (guardian.age < GUARDIAN_MIN_AGE) refusal = new OidcError('GUARDIAN_IS_MINOR');
  else if (!minorPerson.guardianPersonalIds.includes(guardian.personalId)) refusal = new OidcError('GUARDIAN_NOT_LISTED');
  if (refusal) {
    await changeFlow(deps.pool, uid, who.fromStages, { stage: 'guardian_intro', verification_id: null, phone_hint: null, error_code: refusal.code, error_detail: null }, 'guardian');
    throw refusal;
  }
  await recordPersonAccess(deps.pool, {
    personId: who.personId, purpose: 'guardian_check', actor: `provider:${platform.id}`, detail: { provider: platform.name, as: 'guardian', method: who.method },
  });
  const change = { guardian_person_id: who.personId, guardian_method: who.method, phone_hint: null, error_code: null, error_detail: null } as const;
  if (flow.statutory_claims.length > 0) {
    if (!(await changeFlow(deps.pool, uid, who.fromStages, { ...change, stage: 'consent' }, 'guardian'))) throw stepClosed();
    return;
  }
  if (!(await changeFlow(deps.pool, uid, who.fromStages, change, 'guardian'))) throw stepClosed();
  await finish(deps, uid, platform, who.fromStages);
}

/** `POST …/consent {agree}`: agreeing records the consent and finishes; declining goes back to the platform with access_denied. */
export async function answerConsent(deps: HostedFlowDeps, flow: FlowRow, platform: Platform, agree: boolean): Promise<string> {
  if (flow.stage !== 'consent') throw stepClosed();
  if (!agree) return abort(deps, flow, 'access_denied', 'the person did not agree to share the information asked for');
  const claims = consentClaims(flow);
  const consentId = uuidv7();
  await inTransaction(deps.pool, async (client) => {
    if (!(await changeFlow(client, flow.uid, ['consent'], { consent_id: consentId }))) throw stepClosed();
    if (claims.length > 0) {
      await insertConsent(client, { id: consentId, personId: flow.subject_person_id!, providerId: platform.id, claims, purpose: STATUTORY_PURPOSE, legalBasis: STATUTORY_LEGAL_BASIS });
      await recordPersonAccess(client, {
        personId: flow.subject_person_id!, purpose: 'claims_consent', actor: `provider:${platform.id}`,
        detail: { provider: platform.name, consent_id: consentId, claims, agreed_by: flow.guardian_person_id ? 'guardian' : 'person' },
      });
    }
  });
  return finish(deps, flow.uid, platform, ['consent']);
}

/**
 * Binds the account, grants what was agreed and answers the interaction; the browser then goes
 * to `redirect_url` (oidc-provider's resume URL), which redirects to the platform with a code.
 * One transaction: a flow finishes once, and a binding refused (the accounts-per-person limit)
 * leaves nothing behind but the error on the page.
 */
async function finish(deps: HostedFlowDeps, uid: string, platform: Platform, fromStages: FlowStage[]): Promise<string> {
  const provider = await deps.provider();
  const client = await deps.pool.connect();
  let redirect: string;
  try {
    await client.query('BEGIN');
    const flow = (await findFlow(client, uid, true))!;
    if (!fromStages.includes(flow.stage) || flow.stage === 'finished') throw stepClosed();
    const personId = flow.subject_person_id!;
    const portal = isPortal(platform);
    await client.query('SAVEPOINT bind');
    let bound: { account_id: string | null };
    try {
      if (portal) {
        // The person's pseudonym at the portal, the `sub` its relying party maps back to them.
        await lockPseudonym(client, personId, platform.id, newPseudonym());
        bound = { account_id: null };
      } else {
        if (flow.subject_subscription_id
          && !(await lockEligibleHolder(client, flow.subject_subscription_id, personId, deps.verification.config.simChangeWindowHours))) {
          throw new VerificationError('NUMBER_NOT_ELIGIBLE');
        }
        bound = await bindAccountInTransaction(client, platform, {
          accountRef: flow.account_ref, personId, subscriptionId: flow.subject_subscription_id, method: flow.subject_method!, level: flow.subject_level!,
          viaVerification: flow.verification_id ?? flow.id, guardianPersonId: flow.guardian_person_id,
        });
      }
    } catch (e) {
      // Refused: the accounts-per-person limit, or a number contested since its code was confirmed.
      if (!(e instanceof BindingError) && !(e instanceof VerificationError && e.code === 'NUMBER_NOT_ELIGIBLE')) throw e;
      await client.query('ROLLBACK TO SAVEPOINT bind');
      // A number no longer eligible cannot become so by trying again: the person starts over at the
      // choice of method (another number, or eID), with nothing of the verification kept (the
      // number, a guardian's approval, a consent given for this binding).
      await changeFlow(client, uid, [flow.stage], e.code === 'NUMBER_NOT_ELIGIBLE'
        ? {
          stage: 'choose_method', role: 'subject', verification_id: null, subject_person_id: null, subject_method: null, subject_level: null,
          subject_subscription_id: null, guardian_person_id: null, guardian_method: null, consent_id: null, phone_hint: null, sealed: null,
          dek_version: null, error_code: e.code, error_detail: null,
        }
        : { error_code: e.code, error_detail: null });
      await client.query('COMMIT');
      throw e;
    }
    const interaction = await provider.Interaction.find(uid);
    if (!interaction) throw new OidcError('FLOW_EXPIRED');
    const params = interaction.params as Record<string, unknown>;
    // One login per bound account: the claims are read from the account (oidc-claims.ts).
    const accountId = `${personId}.${bound.account_id ?? PORTAL_ACCOUNT}`;
    const grant = new provider.Grant({ accountId, clientId: String(params.client_id) });
    const consented = flow.consent_id ? consentClaims(flow) : [];
    const scopes = new Set(typeof params.scope === 'string' ? params.scope.split(/\s+/) : []);
    grant.addOIDCScope(['openid', ...(scopes.has('offline_access') ? ['offline_access'] : []),
      ...(consented.some((c) => c === 'name' || c === 'birthdate') ? ['profile'] : []), ...(consented.includes('phone_number') ? ['phone'] : [])].join(' '));
    grant.addOIDCClaims(['acr', ...CLAIMS.openid, ...consented]);
    const grantId = await grant.save();
    // No single sign-on: a session this browser still holds from an earlier sign-in (another
    // account, maybe another person on a shared device) is ended here, or oidc-provider would
    // stop at a logout confirmation when the accounts differ.
    const earlier = interaction.session as { cookie?: string } | undefined;
    if (earlier?.cookie) await (await provider.Session.find(earlier.cookie))?.destroy();
    interaction.session = undefined;
    interaction.result = {
      login: { accountId, acr: flow.subject_level!, amr: [flow.subject_method === 'phone' ? 'sms' : 'fed'], remember: false },
      consent: { grantId },
    };
    await interaction.persist();
    redirect = interaction.returnTo;
    await changeFlow(client, uid, [flow.stage], { stage: 'finished', account_id: bound.account_id, redirect_url: redirect, error_code: null, error_detail: null });
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
  if (!isPortal(platform)) deps.onBindingChange?.();
  return redirect;
}

/**
 * `POST …/abort`: back to the platform with an OAuth error (RFC 6749 4.1.2.1): access_denied, or
 * unmet_authentication_requirements when the level asked for cannot be reached (OIDC Core 3.1.2.6).
 */
export async function abort(deps: HostedFlowDeps, flow: FlowRow, error?: string, description?: string): Promise<string> {
  if (flow.stage === 'finished') {
    if (flow.redirect_url) return flow.redirect_url;
    throw stepClosed();
  }
  const provider = await deps.provider();
  const interaction = await provider.Interaction.find(flow.uid);
  if (!interaction) throw new OidcError('FLOW_EXPIRED');
  const code = error ?? (flow.error_code === 'LEVEL_NOT_REACHED' ? 'unmet_authentication_requirements' : 'access_denied');
  interaction.result = {
    error: code,
    error_description: description ?? (code === 'access_denied' ? 'the person cancelled the verification' : 'the level of assurance asked for was not reached'),
  };
  await interaction.persist();
  if (!(await changeFlow(deps.pool, flow.uid, [flow.stage], { stage: 'finished', redirect_url: interaction.returnTo }))) throw stepClosed();
  return interaction.returnTo;
}
