// Preloaded into a CLI run by test/helpers/sandbox.ts: writes the process's peak RSS (kB) to the file named in
// HUBERT_TEST_RSS_FILE when it exits, however it exits.
import { writeFileSync } from 'node:fs';

const file = process.env.HUBERT_TEST_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
