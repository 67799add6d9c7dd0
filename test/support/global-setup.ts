// vitest globalSetup (see vitest.config.ts). With EMBEDCAM_REQUIRE_SHARED=1 (CI) the run stops here,
// before any test, when the shared data is missing: one clear error instead of skipped suites.
// Otherwise there is nothing to check, and shared-data is not even loaded.
export default async function setup(): Promise<void> {
  if (process.env.EMBEDCAM_REQUIRE_SHARED !== '1') return;
  const { requireSharedData } = await import('./shared-data.js');
  requireSharedData();
}
