/**
 * Application errors with stable codes (DESIGN.md "HTTP": RFC 9457 problem details with stable,
 * documented codes). Each capability declares its codes in its own `errors.ts` with
 * `defineErrors`; src/error-catalogue.ts gathers them, docs/errors.md documents every one, and a
 * test checks the two agree (the way fastify tests its error catalogue against its docs).
 *
 * Messages never carry a personal field (DESIGN.md invariant 2): a `detail` names fields, lines
 * and codes, never values.
 */
export interface ErrorSpec {
  /** HTTP status the code is answered with. */
  readonly status: number;
  /** A short, stable, human-readable summary (RFC 9457 `title`). */
  readonly title: string;
}

export function defineErrors<const T extends Record<string, ErrorSpec>>(specs: T): T {
  return Object.freeze(specs);
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  /** Extra members of the problem document (RFC 9457 3.2 extensions), never personal data. */
  readonly extensions: Readonly<Record<string, unknown>>;

  constructor(code: string, spec: ErrorSpec, detail?: string, extensions: Record<string, unknown> = {}) {
    super(detail ?? spec.title);
    this.name = 'AppError';
    this.code = code;
    this.status = spec.status;
    this.title = spec.title;
    this.detail = detail;
    this.extensions = extensions;
  }
}

/**
 * The error class of one capability's catalogue: `class ProviderError extends
 * errorClass('ProviderError', PROVIDER_ERRORS) {}` takes only that catalogue's codes, and
 * answers with the status and title the catalogue gives them.
 */
export function errorClass<const T extends Record<string, ErrorSpec>>(name: string, specs: T) {
  return class extends AppError {
    constructor(code: keyof T & string, detail?: string, extensions: Record<string, unknown> = {}) {
      super(code, specs[code]!, detail, extensions);
      this.name = name;
    }
  };
}
