// `npm run bench` entry point: the conversion benchmark (see bench/README.md); arguments pass through.
await import('./convert.mjs');
