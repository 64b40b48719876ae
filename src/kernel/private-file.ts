/**
 * Files the hub writes for someone to collect (rejects files, action lists): readable by their
 * owner only (mode 0600; issue 2: "a rejects file (mode 0600)"), at every moment of their life.
 *
 * Writing over an existing file in place is not enough, even with `mode` and a `chmod` after it:
 * `mode` applies only to a file being created, so an existing 0644 file holds the new content
 * under its old mode until the chmod, and a reader that opened it before keeps reading whatever
 * is written later (permissions are checked at open). So the content goes to a new file, created
 * 0600 beside the target (O_CREAT|O_EXCL: never an existing file, never through a symbolic link),
 * which is then renamed over the target: an existing file is replaced whole, never rewritten, and
 * its old readers keep seeing its old content only (audit of issue 2, finding 7).
 *
 * A target that exists and is not a regular file (a terminal, a pipe, /dev/stdout) is written
 * as it is: nothing stays at rest there, and renaming over it would replace the device.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, fchmodSync, fsyncSync, lstatSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { chmod, open, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, dirname, join } from 'node:path';

const MODE = 0o600;

/**
 * Where to write: the path itself when it is not there yet, else the file it names (through
 * links), or, with `replaceLinks`, the path itself in place of a link found there.
 */
function resolveTarget(path: string, replaceLinks = false): { path: string; regular: boolean } {
  if (replaceLinks) {
    try {
      const st = lstatSync(path);
      return { path, regular: st.isFile() || st.isSymbolicLink() };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { path, regular: true };
      throw e;
    }
  }
  let real: string;
  try {
    real = realpathSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { path, regular: true };
    throw e;
  }
  return { path: real, regular: statSync(real).isFile() };
}

function temporaryBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

/** Writes `data` to `path`, replacing any file there, readable by the owner only (see above). */
export function writePrivateFileSync(path: string, data: string | Uint8Array): void {
  const target = resolveTarget(path);
  if (!target.regular) {
    writeFileSync(target.path, data);
    return;
  }
  const tmp = temporaryBeside(target.path);
  const fd = openSync(tmp, 'wx', MODE);
  try {
    try {
      // Exactly 0600 whatever the umask (which can only have removed bits), before the first byte.
      fchmodSync(fd, MODE);
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target.path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // Already renamed or never written: nothing to clean.
    }
    throw e;
  }
}

/**
 * The streaming form, for large files such as action lists: `fill` writes the content to the
 * stream it is given (honouring back-pressure); the file appears at `path` once `fill` has
 * finished, or not at all if it throws.
 */
export async function writePrivateFile(
  path: string, fill: (out: NodeJS.WritableStream) => Promise<void>,
  options: {
    /**
     * Replace a symbolic link found at `path` rather than the file it names: for content that
     * must land where it was asked for and nowhere else (the action lists' phone numbers), so a
     * link planted in the output directory cannot send it elsewhere.
     */
    replaceLinks?: boolean;
  } = {},
): Promise<void> {
  const target = resolveTarget(path, options.replaceLinks);
  const tmp = target.regular ? temporaryBeside(target.path) : undefined;
  const out = tmp ? createWriteStream(tmp, { flags: 'wx', mode: MODE }) : createWriteStream(target.path);
  try {
    await once(out, 'open');
    if (tmp) await chmod(tmp, MODE);
    await fill(out);
    out.end();
    await once(out, 'close');
    if (tmp) {
      const written = await open(tmp, 'r');
      await written.sync().finally(() => written.close());
      await rename(tmp, target.path);
    }
  } catch (e) {
    // A write still pending fails once destroyed: that failure is this one.
    out.on('error', () => undefined);
    out.destroy();
    if (tmp) await rm(tmp, { force: true });
    throw e;
  }
}
