/**
 * The provider API through @idbind/sdk, from its source: the platform console is the SDK's first
 * user, so the console and the platforms' own code share one set of types and one client
 * (retries with the same Idempotency-Key, problem documents as IdbindError). Imported from source
 * because the web build must not depend on the package's dist/ having been built.
 */
export * from '../../../packages/sdk/src/index.ts';
