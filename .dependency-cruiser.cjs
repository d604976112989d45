/**
 * Module boundaries, checked in CI (`npm run -s depcruise`, a stage of .ci/run).
 * The design's "never" arrows (docs: /work/shared/design.md, "Modules" and "Ownership").
 *
 * To extend: add a folder to CORE (imports no feature) or FEATURES (may not be imported by
 * CORE); add a rule object to `forbidden`. No known violations are kept: CI fails on any.
 */

/** Infrastructure and sinks: they serve features and import none. */
const CORE = ['kms', 'chain', 'audit', 'notifications', 'jobs', 'common', 'config', 'database'];
/** Feature modules (some not written yet: the rule holds for them from their first file). */
const FEATURES = [
  'auth',
  'operators',
  'users',
  'issuers',
  'tokens',
  'transactions',
  'approvals',
  'governance',
  'batches',
  'webhooks',
  'media',
];
/** Folders outside src/ that the shipped app must never reach. */
const TOOLING = ['test', 'dev', 'bench', 'scripts'];

const any = (names) => `(${names.join('|')})`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-no-feature',
      comment: `${CORE.join(', ')} serve the features and import none of them (${FEATURES.join(', ')}).`,
      severity: 'error',
      from: {
        path: `^src/${any(CORE)}/`,
        // The explicit entity list for TypeORM's DataSource (and the migration tool) names every
        // module's entities; it may import *.entity.ts files and nothing else from a feature.
        pathNot: '^src/database/registry\\.ts$',
      },
      to: { path: `^src/${any(FEATURES)}/` },
    },
    {
      name: 'registry-imports-only-entities',
      comment: 'src/database/registry.ts may import a feature module only for its *.entity.ts files.',
      severity: 'error',
      from: { path: '^src/database/registry\\.ts$' },
      to: { path: `^src/${any(FEATURES)}/`, pathNot: '\\.entity\\.ts$' },
    },
    {
      name: 'controller-only-from-its-folder',
      comment: "Nothing outside a controller's folder imports it (another module, app.module.ts, core-modules.ts).",
      severity: 'error',
      // $1: the importer's module folder (src/tokens), or for a file directly in src/ its own name.
      from: { path: '^(src/[^/]+)(/|\\.ts$)' },
      to: { path: '\\.controller\\.ts$', pathNot: '^$1/' },
    },
    {
      name: 'controller-only-from-its-module',
      comment: 'Inside its folder, only the *.module.ts (and unit specs testing it) import a controller.',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.(module|spec)\\.ts$' },
      to: { path: '\\.controller\\.ts$' },
    },
    {
      name: 'nothing-imports-the-cli',
      comment: 'The secure-room CLI is an entry point; only src/cli itself imports it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'src-imports-no-tooling',
      comment: `The app (src/, specs aside) imports nothing from ${TOOLING.map((t) => t + '/').join(', ')}.`,
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.spec\\.ts$' },
      to: { path: `^${any(TOOLING)}/` },
    },
    {
      name: 'src-imports-no-devDependency',
      comment:
        'The app (src/, specs aside) runs on `npm ci --omit=dev`: no runtime import of a devDependency (type-only imports are erased).',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.spec\\.ts$' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles (type-only imports included).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|coverage|contracts/artifacts)/' },
    includeOnly: '^(src|test|dev|bench|scripts|node_modules)/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    combinedDependencies: false,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
