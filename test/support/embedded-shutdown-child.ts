/**
 * A process that owns an embedded PostgreSQL and writes one last row when told to stop (SIGTERM,
 * or SIGINT as Ctrl-C sends it to the terminal's whole foreground process group), as
 * `idbind serve` flushes its statistics (src/kernel/db/embedded-server.test.ts).
 * argv: data directory, then `leave` to call leaveShutdownSignalsToCaller or `default` not to.
 * Prints `READY <url>`, then FLUSHED or LOST, then ends by itself (no process.exit: whatever
 * still holds the event loop would keep it from exiting, which the test watches).
 */
import pg from 'pg';
import { leaveShutdownSignalsToCaller, startEmbeddedServer } from '../../src/kernel/db/embedded-server.ts';

const server = await startEmbeddedServer({ dataDir: process.argv[2]! });
const client = new pg.Client({ connectionString: server.url, application_name: 'idbind-shutdown-test' });
client.on('error', () => undefined); // a server stopped under it: reported as LOST below
await client.connect();
await client.query('CREATE TABLE IF NOT EXISTS last_words (at timestamptz NOT NULL)');
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await new Promise((r) => setTimeout(r, 300)); // the server's own shutdown takes a moment
    try {
      await client.query('INSERT INTO last_words VALUES (now())');
      process.stdout.write('FLUSHED\n');
    } catch {
      process.stdout.write('LOST\n');
    }
    await client.end().catch(() => undefined);
    await server.stop();
  })();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (process.argv[3] === 'leave') {
  leaveShutdownSignalsToCaller();
  leaveShutdownSignalsToCaller(); // a second call changes nothing (and does not throw)
}
process.stdout.write(`READY ${server.url}\n`);
