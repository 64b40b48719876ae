/**
 * The transparency log over HTTP (issue 5 "Transparency log"; docs/tlog.md). Thin: the rules
 * live in log-service.ts.
 *
 * - C2SP tlog-tiles under /log/: `GET /log/checkpoint` (text/plain; the latest signed
 *   checkpoint with witness cosignature lines, not cached beyond a revalidation),
 *   `GET /log/tile/<L>/<N>[.p/<W>]` and `GET /log/tile/entries/<N>[.p/<W>]`
 *   (application/octet-stream, immutable: a tile of a given width never changes);
 * - `GET /log/vkey`: the log's verifier key (signed-note vkey);
 * - JSON proofs: `GET /v1/log/proof/inclusion?index=&size=`, `GET /v1/log/proof/consistency?from=&to=`;
 * - `POST /v1/log/witness` (admin): adds a witness cosignature line to a checkpoint.
 */
import { Type } from 'typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import { PROBLEM_SCHEMA } from '../kernel/http/problem.ts';
import { HttpError } from '../kernel/http/http-errors.ts';
import type { TransparencyLog } from './log-service.ts';
import { parseTilePath, TILE_WIDTH } from './tiles.ts';
import { LogError } from './log-errors.ts';

export interface LogRouteDeps {
  log: TransparencyLog;
  pool: pg.Pool;
  /** The regulator's admin guard (src/kernel/http/admin-auth.ts), for the witness endpoint. */
  adminGuard: (request: FastifyRequest) => Promise<void>;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';
const B64 = Type.String({ description: 'base64 (RFC 4648 4) of a SHA-256 hash' });

export const InclusionProofSchema = Type.Object({
  index: Type.Integer({ description: 'the entry index' }),
  size: Type.Integer({ description: 'the tree size the proof is for' }),
  leaf_hash: B64,
  hashes: Type.Array(B64, { description: "RFC 6962 2.1.1 audit path, the leaf's sibling first" }),
  root_hash: B64,
}, { $id: 'LogInclusionProof' });

export const ConsistencyProofSchema = Type.Object({
  from: Type.Integer(),
  to: Type.Integer(),
  hashes: Type.Array(B64, { description: 'RFC 6962 2.1.2 consistency proof' }),
  from_root_hash: B64,
  to_root_hash: B64,
}, { $id: 'LogConsistencyProof' });

const WitnessBody = Type.Object({
  size: Type.Integer({ minimum: 0, description: 'the size of the checkpoint cosigned' }),
  signature: Type.String({ minLength: 1, maxLength: 2000, description: 'the witness signature line, `— <name> <base64>` (C2SP tlog-cosignature)' }),
}, { additionalProperties: false });

export async function logRoutes(scope: FastifyInstance, deps: LogRouteDeps): Promise<void> {
  const r = scope.withTypeProvider<TypeBoxTypeProvider>();
  const { log } = deps;

  r.get('/log/checkpoint', {
    schema: { tags: ['log'], summary: 'The latest signed checkpoint (C2SP tlog-checkpoint note), with witness cosignatures', produces: ['text/plain'] },
  }, async (_req, reply) => {
    const cp = await log.checkpoint();
    if (!cp) throw new LogError('LOG_CHECKPOINT_NOT_FOUND', 'the log has not signed a checkpoint yet');
    return reply.type('text/plain; charset=utf-8').header('Cache-Control', 'no-cache').send(cp.text);
  });

  r.get('/log/vkey', {
    schema: { tags: ['log'], summary: "The log's verifier key (C2SP signed-note vkey)", produces: ['text/plain'] },
  }, async (_req, reply) => reply.type('text/plain; charset=utf-8').send(`${log.vkey}\n`));

  r.get('/log/tile/*', {
    schema: { tags: ['log'], summary: 'A tile or entry bundle (C2SP tlog-tiles): /log/tile/<L>/<N>[.p/<W>], /log/tile/entries/<N>[.p/<W>]', produces: ['application/octet-stream'] },
  }, async (req, reply) => {
    const rest = (req.params as { '*': string })['*'];
    const ref = parseTilePath(`tile/${rest}`);
    if (!ref) throw new HttpError('NOT_FOUND', 'not a tile path (tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>])');
    const body = await log.tile(ref);
    if (!body) throw new HttpError('NOT_FOUND', `no ${ref.width === TILE_WIDTH ? 'full' : 'partial'} tile there in the signed tree`);
    return reply.type('application/octet-stream').header('Cache-Control', IMMUTABLE).send(body);
  });

  r.get('/v1/log/proof/inclusion', {
    schema: {
      tags: ['log'], summary: 'Inclusion proof of an entry in a signed tree (default: the latest checkpoint)',
      querystring: Type.Object({ index: Type.Integer({ minimum: 0 }), size: Type.Optional(Type.Integer({ minimum: 1 })) }),
      response: { 200: InclusionProofSchema, 400: PROBLEM_SCHEMA },
    },
  }, async (req) => log.inclusionProof(req.query.index, req.query.size));

  r.get('/v1/log/proof/consistency', {
    schema: {
      tags: ['log'], summary: 'Consistency proof between two signed tree sizes',
      querystring: Type.Object({ from: Type.Integer({ minimum: 1 }), to: Type.Integer({ minimum: 1 }) }),
      response: { 200: ConsistencyProofSchema, 400: PROBLEM_SCHEMA },
    },
  }, async (req) => log.consistencyProof(req.query.from, req.query.to));

  r.post('/v1/log/witness', {
    preHandler: deps.adminGuard,
    schema: {
      tags: ['log'], summary: 'Add a witness cosignature to a checkpoint (verified against IDBIND_LOG_WITNESSES)', security: [{ adminToken: [] }],
      body: WitnessBody,
      response: {
        200: Type.Object({ size: Type.Integer(), witness: Type.String(), added: Type.Boolean({ description: 'false when this witness had cosigned this checkpoint already' }), checkpoint: Type.String() }),
        400: PROBLEM_SCHEMA, 401: PROBLEM_SCHEMA, 404: PROBLEM_SCHEMA,
      },
    },
  }, async (req) => {
    const r2 = await log.addCosignature(req.body.size, req.body.signature);
    return { size: r2.size, witness: r2.witness, added: r2.added, checkpoint: r2.text };
  });
}
