/**
 * The baseline of the import benchmark (issue 2 "Benchmarks"): PostgreSQL `COPY` of the same CSV
 * rows, unencrypted, every field as a text column, from one Node process through
 * pg-copy-streams, into tables with the indexes of migrations/0001_registry.sql:
 *
 * - people: a primary key and a unique index on the personal ID (persons: id, pid_bidx);
 * - subscriptions: a primary key, (carrier_id, msisdn), the unique (carrier_id, msisdn) of
 *   non-terminated rows and (holder_personal_id) of non-terminated rows (subscriptions_number,
 *   subscriptions_live_number, subscriptions_holder).
 *
 * The primary key is a generated bigint: ascending like the import's time-ordered UUIDv7 ids, so
 * the baseline's index inserts are as cheap as the import's (a random UUID would slow the
 * baseline and flatter the ratio). One COPY statement per file, as fast as PostgreSQL loads rows.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { POPULATION_COLUMNS, SUBSCRIPTION_COLUMNS } from '../src/registry/generator/generate-registry.ts';

export const BASELINE_SCHEMA = `
CREATE TABLE base_persons (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ${POPULATION_COLUMNS.map((c) => `${c} text`).join(',\n  ')}
);
CREATE UNIQUE INDEX base_persons_personal_id ON base_persons (personal_id);

CREATE TABLE base_subscriptions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  carrier_id integer NOT NULL,
  ${SUBSCRIPTION_COLUMNS.map((c) => `${c} text`).join(',\n  ')}
);
CREATE INDEX base_subscriptions_number ON base_subscriptions (carrier_id, msisdn);
CREATE UNIQUE INDEX base_subscriptions_live_number ON base_subscriptions (carrier_id, msisdn) WHERE status <> 'terminated';
CREATE INDEX base_subscriptions_holder ON base_subscriptions (holder_personal_id) WHERE status <> 'terminated';
`;

export interface BaselineFile {
  readonly kind: 'population' | 'subscriptions';
  /** The carrier's number in the baseline table (subscriptions). */
  readonly carrierId?: number;
  readonly path: string;
}

export interface BaselineFileResult {
  rows: number;
  seconds: number;
}

export async function createBaselineSchema(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(BASELINE_SCHEMA);
  } finally {
    await client.end();
  }
}

/** COPYs one file (CSV with a header row) and returns the rows PostgreSQL reports and the time. */
export async function baselineCopy(url: string, file: BaselineFile): Promise<BaselineFileResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let sql: string;
    if (file.kind === 'population') {
      sql = `COPY base_persons (${POPULATION_COLUMNS.join(', ')}) FROM STDIN WITH (FORMAT csv, HEADER true)`;
    } else {
      // The carrier is the file's, as in the import: a column default set before the timed COPY.
      await client.query(`ALTER TABLE base_subscriptions ALTER COLUMN carrier_id SET DEFAULT ${Number(file.carrierId ?? 0)}`);
      sql = `COPY base_subscriptions (${SUBSCRIPTION_COLUMNS.join(', ')}) FROM STDIN WITH (FORMAT csv, HEADER true)`;
    }
    const start = process.hrtime.bigint();
    const stream = client.query(copyStreams.from(sql));
    await pipeline(createReadStream(file.path, { highWaterMark: 1 << 20 }), stream);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { rows: stream.rowCount, seconds };
  } finally {
    await client.end();
  }
}
