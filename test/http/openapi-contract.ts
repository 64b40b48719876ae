/**
 * Checks a real answer of the hub against its own OpenAPI document (GET /openapi.json), as a
 * client generated from that document would read it: the status is documented, the media type
 * is one the document names for it, the body validates against the schema of that media type
 * (OpenAPI 3.1: JSON Schema 2020-12, `#/components/schemas` references resolved), and the
 * headers a client must act on (Retry-After on 429 and 503, Location on a creation) are
 * documented where they are sent. Answers a list of violations, empty when the answer conforms.
 */
import Ajv2020Module, { type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

// CommonJS modules: their default export is under `default` when imported from ESM.
const Ajv2020 = Ajv2020Module.default;

interface MediaType {
  schema?: unknown;
}
interface ResponseObject {
  description?: string;
  headers?: Record<string, unknown>;
  content?: Record<string, MediaType>;
}
export interface OpenApiOperation {
  operationId?: string;
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { required?: boolean; content?: Record<string, MediaType> };
  responses: Record<string, ResponseObject>;
  security?: Record<string, unknown>[];
}
export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, OpenApiOperation>>;
  components: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
}

export interface Answer {
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

const COMPONENT = '#/components/schemas/';

/** The schema with every component reference replaced by the component (the components here are not recursive). */
export function inlineRefs(schema: unknown, doc: OpenApiDocument, seen: readonly string[] = []): unknown {
  if (Array.isArray(schema)) return schema.map((s) => inlineRefs(s, doc, seen));
  if (schema === null || typeof schema !== 'object') return schema;
  const obj = schema as Record<string, unknown>;
  if (typeof obj.$ref === 'string') {
    const ref = obj.$ref;
    if (!ref.startsWith(COMPONENT)) throw new Error(`unresolvable $ref ${ref}`);
    const name = ref.slice(COMPONENT.length);
    const target = doc.components.schemas?.[name];
    if (target === undefined) throw new Error(`unresolvable $ref ${ref}`);
    if (seen.includes(name)) throw new Error(`recursive $ref ${ref}`);
    const { $ref: _ref, ...rest } = obj;
    return { ...(inlineRefs(target, doc, [...seen, name]) as object), ...(inlineRefs(rest, doc, seen) as object) };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = k === '$id' ? undefined : inlineRefs(v, doc, seen);
  delete out.$id;
  return out;
}

function header(res: Answer, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return v === undefined ? undefined : String(Array.isArray(v) ? v[0] : v);
}

function documentedHeader(r: ResponseObject, name: string): boolean {
  return Object.keys(r.headers ?? {}).some((h) => h.toLowerCase() === name.toLowerCase());
}

export class Contract {
  readonly doc: OpenApiDocument;
  private readonly ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(doc: OpenApiDocument) {
    this.doc = doc;
    addFormats.default(this.ajv);
  }

  operation(method: string, path: string): OpenApiOperation | undefined {
    return this.doc.paths[path]?.[method.toLowerCase()];
  }

  /** Violations of the document by this answer to `method path` (path as written in the document, `{param}` and all). */
  violations(method: string, path: string, res: Answer): string[] {
    const where = `${method.toUpperCase()} ${path} ${res.statusCode}`;
    const op = this.operation(method, path);
    if (!op) return [`${method.toUpperCase()} ${path}: not in the document`];
    const documented = op.responses[String(res.statusCode)] ?? op.responses[`${String(res.statusCode)[0]}XX`] ?? op.responses.default;
    if (!documented) return [`${where}: status not documented (documented: ${Object.keys(op.responses).join(', ')})`];
    const out: string[] = [];
    if ((res.statusCode === 429 || res.statusCode === 503) && header(res, 'retry-after') !== undefined && !documentedHeader(documented, 'Retry-After')) {
      out.push(`${where}: Retry-After sent but not documented`);
    }
    if (res.statusCode === 429 && header(res, 'retry-after') === undefined) out.push(`${where}: no Retry-After header`);
    if (header(res, 'location') !== undefined && !documentedHeader(documented, 'Location')) out.push(`${where}: Location sent but not documented`);
    if (res.body === '' || res.statusCode === 204) {
      if (res.body !== '') out.push(`${where}: a body on 204`);
      return out;
    }
    const mediaType = (header(res, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const media = documented.content?.[mediaType];
    if (!media) {
      out.push(`${where}: answered ${mediaType || '(no content type)'}, documented ${Object.keys(documented.content ?? {}).join(', ') || '(no content)'}`);
      return out;
    }
    if (media.schema === undefined) return out;
    if (mediaType === 'application/x-ndjson') {
      const validate = this.validator(`${where} ${mediaType}`, media.schema);
      res.body.split('\n').filter((l) => l !== '').forEach((line, i) => {
        if (!validate(JSON.parse(line))) out.push(`${where}: line ${i + 1} ${this.ajv.errorsText(validate.errors)}`);
      });
      return out;
    }
    if (!mediaType.endsWith('json')) return out;
    const validate = this.validator(`${where} ${mediaType}`, media.schema);
    if (!validate(JSON.parse(res.body))) out.push(`${where}: ${this.ajv.errorsText(validate.errors)} in ${res.body.slice(0, 300)}`);
    return out;
  }

  private validator(key: string, schema: unknown): ValidateFunction {
    let v = this.compiled.get(key);
    if (!v) this.compiled.set(key, (v = this.ajv.compile(inlineRefs(schema, this.doc) as object)));
    return v;
  }
}
