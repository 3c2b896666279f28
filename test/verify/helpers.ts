/** Test helpers of the verify tests: the shared golden and fixture helpers. */
export { FIXTURES } from '../helpers/fixtures.js';
export { goldenNames, hfDir, loadGolden, loadHfModel, maxAbsDiff, writeGoldenWithInputs } from '../helpers/golden.js';
