#!/usr/bin/env node
// Entry point of the `idbind` command. The hub runs its TypeScript sources through tsx, so a
// fresh clone needs no build step for the CLI; see README "Running".
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
