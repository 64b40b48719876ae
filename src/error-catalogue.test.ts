import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ERROR_CATALOGUE } from './error-catalogue.ts';
import { REJECT_CODES } from './registry/reject-codes.ts';

const errorsDoc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const formatsDoc = readFileSync(new URL('../docs/formats.md', import.meta.url), 'utf8');

/** `### CODE` headings and the status on the line after each. */
function documented(doc: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = /^### ([A-Z_]+)\n(\d{3})\./gm;
  for (let m = re.exec(doc); m; m = re.exec(doc)) out.set(m[1]!, Number(m[2]));
  return out;
}

describe('error catalogue', () => {
  it('documents every code with its status, and no code that does not exist', () => {
    const docs = documented(errorsDoc);
    expect([...docs.keys()].sort()).toEqual(Object.keys(ERROR_CATALOGUE).sort());
    for (const [code, spec] of Object.entries(ERROR_CATALOGUE)) expect(docs.get(code), code).toBe(spec.status);
  });

  it('documents every reject code of imports', () => {
    const section = formatsDoc.slice(formatsDoc.indexOf('## Reject codes'));
    const listed = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(Object.keys(REJECT_CODES).sort());
  });
});
