/**
 * The shape of a CLI command: one file per command in src/cli/, thin, calling a capability's
 * service. Arguments are parsed with node:util parseArgs (no dependency); every command answers
 * `--help`, and those a machine reads accept `--json`.
 *
 * Exit statuses: 0 success, 1 failure, 2 usage error, 3 partial success (some rows rejected).
 */
export interface CommandContext {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export interface Command {
  /** The word that selects it, e.g. `generate` (its one-line summary is in src/cli.ts, COMMANDS). */
  readonly name: string;
  /** The full `--help` text. */
  readonly help: string;
  run(args: string[], ctx: CommandContext): Promise<number>;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_PARTIAL = 3;

/** A usage error: printed with the command's help hint, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
