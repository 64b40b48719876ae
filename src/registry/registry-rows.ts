/**
 * Validation and normalisation of registry rows (issue 2, "Input formats" and "Rules"). Pure
 * functions: a raw record of strings in, a normalised row or the first reject out. The order of
 * sealed fields defined here is the storage format of `persons.sealed` and `subscriptions.sealed`.
 */
import { checkPersonalId, isWellFormedPersonalId, type Sex } from './personal-id.ts';
import { normaliseVietnameseMobile } from './phone-number.ts';
import { canonicalName, isPlausibleName } from './name-match.ts';
import { isoInstant, parseCalendarDate, parseInstantMs } from './dates.ts';
import type { RejectCode } from './reject-codes.ts';

export type RawRecord = Readonly<Record<string, string | undefined>>;

export const POPULATION_FIELDS = ['personal_id', 'full_name', 'birth_date', 'sex', 'status', 'died_on', 'guardian_personal_ids'] as const;
export const POPULATION_REQUIRED = ['personal_id', 'full_name', 'birth_date', 'sex', 'status'] as const;
export const SUBSCRIPTION_FIELDS = [
  'msisdn', 'holder_personal_id', 'holder_full_name', 'holder_birth_date', 'channel', 'registered_at', 'status', 'sim_changed_at', 'device_changed_at',
] as const;
export const SUBSCRIPTION_REQUIRED = ['msisdn', 'holder_personal_id', 'holder_full_name', 'holder_birth_date', 'channel', 'registered_at', 'status'] as const;

export const PERSON_STATUSES = ['alive', 'deceased'] as const;
export const CHANNELS = ['store', 'online', 'video', 'vneid'] as const;
export const SUBSCRIPTION_STATUSES = ['active', 'blocked_outgoing', 'blocked_both', 'terminated'] as const;
export type PersonStatus = (typeof PERSON_STATUSES)[number];
export type Channel = (typeof CHANNELS)[number];
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

export interface PersonRow {
  personalId: string;
  fullName: string;
  birthDate: string;
  sex: Sex;
  status: PersonStatus;
  diedOn: string; // '' when unknown or alive
  guardianPersonalIds: string[]; // sorted
}

export interface SubscriptionRow {
  msisdn: string; // E.164
  holderPersonalId: string; // '' when none recorded
  holderFullName: string;
  holderBirthDate: string;
  channel: Channel;
  registeredAt: string; // ISO UTC
  status: SubscriptionStatus;
  simChangedAt: string; // ISO UTC or ''
  deviceChangedAt: string;
}

export type Validated<T> = { ok: true; row: T } | { ok: false; field: string; code: RejectCode };

/** Control characters (C0 and DEL) never belong in a stored field; the sealed record uses \u001f. */
export function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function fail<T>(field: string, code: RejectCode): Validated<T> {
  return { ok: false, field, code };
}

function value(record: RawRecord, field: string): string {
  return (record[field] ?? '').trim();
}

/** `today` is a `YYYY-MM-DD` date (Vietnam time) for the "not in the future" checks. */
export function validatePersonRecord(record: RawRecord, today: string): Validated<PersonRow> {
  for (const f of POPULATION_REQUIRED) if (value(record, f) === '') return fail(f, 'MISSING_FIELD');
  const personalId = value(record, 'personal_id');
  if (!isWellFormedPersonalId(personalId)) return fail('personal_id', 'PERSONAL_ID_INVALID');
  const rawName = value(record, 'full_name');
  if (hasControlCharacter(rawName) || !isPlausibleName(canonicalName(rawName))) return fail('full_name', 'NAME_INVALID');
  const birthDate = parseCalendarDate(value(record, 'birth_date'));
  if (!birthDate || birthDate > today) return fail('birth_date', 'DATE_INVALID');
  const sex = value(record, 'sex');
  if (sex !== 'M' && sex !== 'F') return fail('sex', 'SEX_INVALID');
  const idProblem = checkPersonalId(personalId, Number(birthDate.slice(0, 4)), sex);
  if (idProblem) return fail('personal_id', idProblem);
  const status = value(record, 'status');
  if (!(PERSON_STATUSES as readonly string[]).includes(status)) return fail('status', 'STATUS_UNKNOWN');
  let diedOn = value(record, 'died_on');
  if (diedOn !== '') {
    if (!parseCalendarDate(diedOn)) return fail('died_on', 'DATE_INVALID');
    if (status !== 'deceased' || diedOn < birthDate || diedOn > today) return fail('died_on', 'DIED_ON_INCONSISTENT');
  } else diedOn = '';
  const guardiansRaw = value(record, 'guardian_personal_ids');
  const guardians = guardiansRaw === '' ? [] : guardiansRaw.split(';').map((g) => g.trim()).filter((g) => g !== '');
  for (const g of guardians) {
    if (!isWellFormedPersonalId(g) || g === personalId) return fail('guardian_personal_ids', 'GUARDIAN_ID_INVALID');
  }
  return {
    ok: true,
    row: {
      personalId,
      fullName: canonicalName(rawName),
      birthDate,
      sex,
      status: status as PersonStatus,
      diedOn,
      guardianPersonalIds: [...new Set(guardians)].sort(),
    },
  };
}

/**
 * How far ahead of the hub's clock a registry time may be: a day, for clocks and time zones. A
 * time beyond it is a typing error, and kept it would do lasting harm: a delta dated in 2099
 * makes every later event of the number stale (older than the last one applied), and a SIM
 * change in the future keeps the number inside the verification's SIM-change window for years.
 */
export const FUTURE_TOLERANCE_MS = 86_400_000;

/** The latest registry time accepted now (`FUTURE_TOLERANCE_MS`); taken once per import run. */
export function latestAcceptedTime(now = Date.now()): number {
  return now + FUTURE_TOLERANCE_MS;
}

/** An ISO time no later than `notAfterMs`, as UTC ISO 8601; undefined when invalid or later. */
export function parsePastInstant(raw: string, notAfterMs: number): string | undefined {
  const ms = parseInstantMs(raw);
  return ms === undefined || ms > notAfterMs ? undefined : isoInstant(ms);
}

/** `notAfterMs`: the latest time accepted (`latestAcceptedTime()` at the start of the run). */
export function validateSubscriptionRecord(record: RawRecord, notAfterMs: number): Validated<SubscriptionRow> {
  for (const f of ['msisdn', 'channel', 'registered_at', 'status'] as const) if (value(record, f) === '') return fail(f, 'MISSING_FIELD');
  const msisdn = normaliseVietnameseMobile(value(record, 'msisdn'));
  if (!msisdn) return fail('msisdn', 'NOT_VIETNAMESE_MOBILE');
  const holderPersonalId = value(record, 'holder_personal_id');
  if (holderPersonalId !== '' && !isWellFormedPersonalId(holderPersonalId)) return fail('holder_personal_id', 'PERSONAL_ID_INVALID');
  // A carrier's holder name may be wrong (that is what reconciliation finds); it is rejected only
  // when it cannot be stored faithfully.
  const holderFullName = canonicalName(value(record, 'holder_full_name'));
  if (hasControlCharacter(holderFullName) || holderFullName.length > 200) return fail('holder_full_name', 'NAME_INVALID');
  const rawBirth = value(record, 'holder_birth_date');
  const holderBirthDate = rawBirth === '' ? '' : parseCalendarDate(rawBirth);
  if (holderBirthDate === undefined) return fail('holder_birth_date', 'DATE_INVALID');
  const channel = value(record, 'channel');
  if (!(CHANNELS as readonly string[]).includes(channel)) return fail('channel', 'CHANNEL_UNKNOWN');
  const registeredAt = parsePastInstant(value(record, 'registered_at'), notAfterMs);
  if (!registeredAt) return fail('registered_at', 'DATE_INVALID');
  const status = value(record, 'status');
  if (!(SUBSCRIPTION_STATUSES as readonly string[]).includes(status)) return fail('status', 'STATUS_UNKNOWN');
  const times: Record<'sim_changed_at' | 'device_changed_at', string> = { sim_changed_at: '', device_changed_at: '' };
  for (const f of ['sim_changed_at', 'device_changed_at'] as const) {
    const raw = value(record, f);
    if (raw === '') continue;
    const t = parsePastInstant(raw, notAfterMs);
    if (!t) return fail(f, 'DATE_INVALID');
    times[f] = t;
  }
  return {
    ok: true,
    row: {
      msisdn,
      holderPersonalId,
      holderFullName,
      holderBirthDate,
      channel: channel as Channel,
      registeredAt,
      status: status as SubscriptionStatus,
      simChangedAt: times.sim_changed_at,
      deviceChangedAt: times.device_changed_at,
    },
  };
}

/** persons.sealed field order. */
export function personSealedFields(p: PersonRow): string[] {
  return [p.personalId, p.fullName, p.birthDate, p.sex, p.diedOn, p.guardianPersonalIds.join(';')];
}

export function personFromSealedFields(f: string[], status: PersonStatus): PersonRow {
  return {
    personalId: f[0] ?? '',
    fullName: f[1] ?? '',
    birthDate: f[2] ?? '',
    sex: (f[3] ?? 'M') as Sex,
    status,
    diedOn: f[4] ?? '',
    guardianPersonalIds: f[5] ? f[5].split(';') : [],
  };
}

/** subscriptions.sealed field order. */
export function subscriptionSealedFields(s: Pick<SubscriptionRow, 'msisdn' | 'holderPersonalId' | 'holderFullName' | 'holderBirthDate'>): string[] {
  return [s.msisdn, s.holderPersonalId, s.holderFullName, s.holderBirthDate];
}

/** The canonical text whose keyed digest says whether a stored row is unchanged. */
export function personCanonical(p: PersonRow): string {
  return [...personSealedFields(p), p.status].join('\u001f');
}

export function subscriptionCanonical(s: SubscriptionRow): string {
  return [...subscriptionSealedFields(s), s.channel, s.registeredAt, s.status, s.simChangedAt, s.deviceChangedAt].join('\u001f');
}

/** Today's date in Vietnam time (UTC+7), `YYYY-MM-DD`. */
export function vietnamToday(now = Date.now()): string {
  return new Date(now + 7 * 3_600_000).toISOString().slice(0, 10);
}
