/**
 * Reasons a registry row is rejected (issue 2, "Rules"). A reject names the line, the field and
 * one of these codes, never the row's values (DESIGN.md invariant 2). Documented in
 * docs/formats.md; a test checks every code is documented there.
 */
export const REJECT_CODES = {
  MALFORMED_ROW: 'the line is not a well-formed CSV record or JSON object of the expected shape',
  ENCODING_INVALID: 'the line is not valid UTF-8 (or holds U+FFFD, the mark of an earlier lossy conversion); the field is the one holding it, or `*`',
  UNKNOWN_FIELD: 'an NDJSON object carries a field the format does not define (field `*`: the key is never repeated)',
  MISSING_FIELD: 'a required field is empty',
  PERSONAL_ID_INVALID: 'not 12 digits, or an unknown province code',
  PERSONAL_ID_CONTRADICTS_BIRTH_DATE: 'the century and year digits do not encode the birth date',
  PERSONAL_ID_CONTRADICTS_SEX: 'the century/sex digit does not encode the sex',
  DATE_INVALID: 'not a valid date (YYYY-MM-DD) or ISO 8601 time; or a person\'s birth date (population) after today, or a carrier\'s time more than a day ahead of the hub\'s clock',
  DIED_ON_INCONSISTENT: 'died_on given for a living person, or before the birth date, or in the future',
  NAME_INVALID: 'empty, longer than 200 characters, or containing characters a name cannot hold',
  SEX_INVALID: 'sex is not M or F',
  STATUS_UNKNOWN: 'the status is not one the format defines',
  CHANNEL_UNKNOWN: 'the channel is not store, online, video or vneid',
  NOT_VIETNAMESE_MOBILE: 'not a Vietnamese mobile number (libphonenumber, type MOBILE)',
  GUARDIAN_ID_INVALID: 'a guardian personal ID number is malformed, or is the person\'s own',
  DUPLICATE_KEY: 'the same key (personal ID, number, event id) appeared earlier in the same file',
  EVENT_TYPE_UNKNOWN: 'the event type is not one the delta format defines',
  EVENT_ID_REUSED: 'this event id was applied before with different content',
  NO_LIVE_SUBSCRIPTION: 'the event needs a live subscription of this number at this carrier and there is none',
  NUMBER_ALREADY_ACTIVE: 'a registration for a number that already has a live subscription at this carrier',
  DECEASED_IN_REGISTRY: 'a population row records as alive a person stored as deceased (an older file?); taken only by `idbind import population --correct-deaths`',
  OLDER_THAN_STORED: 'a full file\'s row older than what is stored for its number: another holder registered before the live subscription began, or a live row for a number whose subscriptions have all ended, registered no later than the latest one\'s registration or last event; nothing changed',
} as const;

export type RejectCode = keyof typeof REJECT_CODES;

export interface RowReject {
  line: number;
  field: string;
  code: RejectCode;
}
