/**
 * A source that does not exist but is spelled like a Hugging Face Hub model id (`facebook/hubert-base-ls960`): the
 * user expected a download. hubert-convert reads local files only, so say so and show how to get the folder.
 */
import { existsSync } from 'node:fs';
import { FileSystemError } from './errors.js';

const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
/** A name with one of these endings is a file the user meant to have locally, not a repository. */
const FILE_ENDINGS = /\.(pt|pth|ckpt|bin|safetensors|json|txt|onnx|npy|wav)$/i;

export function looksLikeHubId(path: string): boolean {
  if (!HUB_ID.test(path) || FILE_ENDINGS.test(path) || path.includes('..')) return false;
  // `checkpoints/missing` with a local checkpoints/ folder is a typo in a local path
  return !existsSync(path.split('/')[0]!);
}

/** Throws E_HUB_ID_NOT_LOCAL (exit 6) when `path` is missing and looks like a Hub model id. */
export function refuseHubId(path: string, what: string): void {
  if (existsSync(path) || !looksLikeHubId(path)) return;
  const name = path.split('/')[1]!;
  throw new FileSystemError(
    'E_HUB_ID_NOT_LOCAL',
    `${what} ${path} is not a local file or folder; it looks like a Hugging Face Hub model id. hubert-convert works on local files only and never downloads: ` +
      `download the folder first (\`huggingface-cli download ${path} --local-dir ${name}\` or \`git clone https://huggingface.co/${path} ${name}\`) and pass ${name}`,
    { path },
  );
}
