/**
 * CPU seconds used by a PostgreSQL server so far (Linux /proc), to say where a phase's CPU went:
 * the postmaster's own time, the time of its children that have exited (cutime, cstime: a
 * backend that served a finished connection) and the time of its live children (backends,
 * checkpointer, WAL writer). Undefined where /proc is not available.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** Fields of /proc/PID/stat after the command name: [state, ppid, ...]; index 11 is utime. */
function statFields(pid: string): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // exited meanwhile
  }
}

/** The postmaster's pid, from the first line of DATA_DIR/postmaster.pid. */
export function postmasterPid(dataDir: string): number | undefined {
  const file = join(dataDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function serverCpuSeconds(postmaster: number | undefined): number | undefined {
  if (postmaster === undefined || !existsSync('/proc/self/stat')) return undefined;
  const own = statFields(String(postmaster));
  if (!own) return undefined;
  // utime, stime, cutime, cstime are fields 14-17 of stat, 11-14 here.
  let t = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  const parent = String(postmaster);
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const f = statFields(pid);
    if (f && f[1] === parent) t += Number(f[11]) + Number(f[12]);
  }
  return t / clockTicks();
}

/** CPU seconds all cores spent busy since boot (/proc/stat: everything but idle and iowait). */
export function machineBusySeconds(): number | undefined {
  try {
    const first = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const total = first.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - first[3]! - first[4]!) / clockTicks();
  } catch {
    return undefined;
  }
}

/** This process's CPU seconds plus those of its children it has waited for (the bench children). */
export function ownTreeSeconds(): number | undefined {
  const f = statFields('self');
  if (!f) return undefined;
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / clockTicks();
}

/** CPU seconds (user + system) a live process has used so far; undefined once it has exited or without /proc. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const f = statFields(String(pid));
  if (!f) return undefined;
  return (Number(f[11]) + Number(f[12])) / clockTicks();
}
