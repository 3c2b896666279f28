// `npm run bench` entry point (see bench/README.md); arguments pass through.
//   npm run bench [-- <convert options>]          the conversion benchmark (bench/convert.mjs)
//   npm run bench -- verify [<verify options>]    verify against the Python peer (bench/verify.mjs)
const BENCHES = { convert: './convert.mjs', verify: './verify.mjs' };
const named = BENCHES[process.argv[2]];
if (named) process.argv.splice(2, 1);
await import(named ?? BENCHES.convert);
