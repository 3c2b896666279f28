/**
 * Keys an output JSON file (config.json, preprocessor_config.json, tokenizer files) never carries over from a source,
 * each with why. transformers follows the first group to Python files (`trust_remote_code=True` runs them), so a
 * converted folder must not point at code the user never saw; the second would publish the machine's local paths.
 */
export interface RemovedConfigKey {
  /** the output file, e.g. "config.json" */
  file: string;
  key: string;
  reason: string;
}

const REMOTE_CODE = 'names Python code that transformers would load with trust_remote_code (never copied)';

export const REMOVED_KEYS: Readonly<Record<string, string>> = {
  // {"AutoModel": "modeling_x.Model", ...}: classes in .py files of the folder or another repository
  auto_map: REMOTE_CODE,
  // {"task": {"impl": "pipeline_x.Pipeline", ...}}: pipeline classes in .py files
  custom_pipelines: REMOTE_CODE,
  // not a transformers field, but a folder asking for it asks to run code
  trust_remote_code: REMOTE_CODE,
  // transformers records where a model was loaded from; for a local folder that is a path on this machine
  _name_or_path: 'where a model was loaded from on the machine that saved it (a local path; transformers sets it again on load)',
};

/** `value` without the removed keys (top level, where transformers reads them), and what was removed. */
export function withoutRemovedKeys<T extends object>(file: string, value: T): { value: T; removed: RemovedConfigKey[] } {
  const removed: RemovedConfigKey[] = [];
  const kept: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const reason = Object.hasOwn(REMOVED_KEYS, key) ? REMOVED_KEYS[key] : undefined;
    if (reason !== undefined) removed.push({ file, key, reason });
    else kept[key] = v;
  }
  return { value: kept as T, removed };
}
