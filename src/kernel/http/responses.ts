/**
 * Success responses documented beyond a JSON body, for a route's `schema.response`: keyed by
 * media type (which Fastify also serializes by), so that @fastify/swagger documents the media
 * type and the headers as sent. A header sent but not documented is left out of generated
 * clients; a CSV documented as a JSON string is parsed as JSON by them.
 */
import type { TSchema } from 'typebox';

const LOCATION = { Location: { type: 'string', description: 'The path of the resource (relative to the hub), to GET' } } as const;

/**
 * An answer naming the resource it created (201, RFC 9110 section 10.2.2) or the job that will
 * do the work (202, polled at that URL), in Location.
 */
export function withLocation<T extends TSchema>(schema: T, description: string) {
  return { description, headers: LOCATION, content: { 'application/json': { schema } } } as const;
}

/** A CSV answer (streamed, so never serialized), with the headers it carries. */
export function csvResponse(description: string, headers: Record<string, { type: 'string'; description: string }> = {}) {
  return {
    description,
    headers: { 'Content-Disposition': { type: 'string', description: 'attachment, with a file name' }, ...headers },
    content: { 'text/csv': { schema: { type: 'string' } } },
  } as const;
}
