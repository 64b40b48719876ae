// Entry of an import worker thread: registers tsx in this thread (hooks registered in the parent
// thread do not reach workers on Node 20), then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./import-worker.ts');
