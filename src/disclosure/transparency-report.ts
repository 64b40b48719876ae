/**
 * The public transparency report (issue 5 "Transparency report"): per half-year, disclosure
 * requests by requesting authority (filed, approved, rejected, emergency, reviews late, sealed,
 * accounts affected), and the current signed checkpoint of the transparency log, so that anyone
 * can hold the counts against the log. Counts only: no account, person or case appears.
 */
import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { PROBLEM_SCHEMA } from '../kernel/http/problem.ts';
import type { TransparencyLog } from '../tlog/log-service.ts';
import { DisclosureError } from './disclosure-errors.ts';

export interface AuthorityCounts {
  authority: { id: string; name: string; kind: string };
  requests: number;
  approved: number;
  rejected: number;
  expired: number;
  emergency: number;
  reviewed_late: number;
  review_overdue: number;
  sealed: number;
  accounts_affected: number;
}

export interface TransparencyReport {
  period: string;
  from: string;
  to: string;
  totals: Omit<AuthorityCounts, 'authority'>;
  by_authority: AuthorityCounts[];
  checkpoint: string | null;
  generated_at: string;
}

const PERIOD = /^(\d{4})-H([12])$/;

/** The half-year containing `at` (in Vietnam's time), as `YYYY-H1` or `YYYY-H2`. */
export function periodOf(at: Date): string {
  const vn = new Date(at.getTime() + 7 * 3_600_000);
  return `${vn.getUTCFullYear()}-H${vn.getUTCMonth() < 6 ? 1 : 2}`;
}

function bounds(period: string): { from: string; to: string } {
  const m = PERIOD.exec(period);
  if (!m) throw new DisclosureError('DISCLOSURE_INVALID', 'period: YYYY-H1 or YYYY-H2');
  const year = Number(m[1]);
  return m[2] === '1' ? { from: `${year}-01-01`, to: `${year}-07-01` } : { from: `${year}-07-01`, to: `${year + 1}-01-01` };
}

export async function transparencyReport(pool: pg.Pool, log: TransparencyLog | undefined, period: string): Promise<TransparencyReport> {
  const { from, to } = bounds(period);
  const rows = (await pool.query<Omit<AuthorityCounts, 'authority'> & { id: string; name: string; kind: string }>(
    `SELECT a.id, a.name, a.kind,
       count(*)::int AS requests,
       count(*) FILTER (WHERE r.approved_at IS NOT NULL)::int AS approved,
       count(*) FILTER (WHERE r.status = 'rejected')::int AS rejected,
       count(*) FILTER (WHERE r.status = 'expired' OR (r.status = 'submitted' AND r.expires_at <= now()))::int AS expired,
       count(*) FILTER (WHERE r.emergency)::int AS emergency,
       count(*) FILTER (WHERE r.emergency AND r.reviewed_at > r.review_due_at)::int AS reviewed_late,
       count(*) FILTER (WHERE r.emergency AND r.reviewed_at IS NULL AND r.review_due_at < now())::int AS review_overdue,
       count(*) FILTER (WHERE r.seal_until IS NOT NULL)::int AS sealed,
       count(DISTINCT r.account_id) FILTER (WHERE r.status = 'released')::int AS accounts_affected
     FROM disclosure_requests r JOIN authorities a ON a.id = r.requester_authority_id
     WHERE r.created_at >= ($1::date - interval '7 hours') AND r.created_at < ($2::date - interval '7 hours')
     GROUP BY a.id, a.name, a.kind ORDER BY a.name`,
    [from, to],
  )).rows;
  const by_authority = rows.map(({ id, name, kind, ...counts }) => ({ authority: { id, name, kind }, ...counts }));
  const keys = ['requests', 'approved', 'rejected', 'expired', 'emergency', 'reviewed_late', 'review_overdue', 'sealed', 'accounts_affected'] as const;
  const totals = Object.fromEntries(keys.map((k) => [k, by_authority.reduce((sum, a) => sum + a[k], 0)])) as TransparencyReport['totals'];
  let checkpoint: string | null = null;
  if (log) checkpoint = (await log.checkpoint())?.text ?? null;
  return { period, from, to, totals, by_authority, checkpoint, generated_at: new Date().toISOString() };
}

const Counts = {
  requests: Type.Integer(), approved: Type.Integer(), rejected: Type.Integer(), expired: Type.Integer(), emergency: Type.Integer(),
  reviewed_late: Type.Integer(), review_overdue: Type.Integer(), sealed: Type.Integer(), accounts_affected: Type.Integer(),
};

/** `GET /v1/transparency/report?period=YYYY-H1|H2` (public; default: the current half-year). */
export async function transparencyRoutes(app: FastifyInstance, deps: { pool: pg.Pool; log: TransparencyLog | undefined }): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get('/v1/transparency/report', {
    schema: {
      tags: ['transparency'], summary: 'Disclosure statistics per half-year and the current signed checkpoint (public)',
      querystring: Type.Object({ period: Type.Optional(Type.String({ pattern: '^\\d{4}-H[12]$' })) }),
      response: {
        200: Type.Object({
          period: Type.String(), from: Type.String(), to: Type.String(), totals: Type.Object(Counts),
          by_authority: Type.Array(Type.Object({ authority: Type.Object({ id: Type.String(), name: Type.String(), kind: Type.String() }), ...Counts })),
          checkpoint: Type.Union([Type.String(), Type.Null()]), generated_at: Type.String(),
        }),
        400: PROBLEM_SCHEMA,
      },
    },
  }, async (request) => transparencyReport(deps.pool, deps.log, request.query.period ?? periodOf(new Date())));
}
