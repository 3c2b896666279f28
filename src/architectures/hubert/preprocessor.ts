/**
 * preprocessor_config.json of a HuBERT model (Wav2Vec2FeatureExtractor; formats.md §0, §1.4): what transformers and
 * transformers.js need to feed the model, and the rules that tie it to the model's config.
 */
import type { HubertConfigFields, PreprocessorConfig } from '../../model.js';

/** The attention mask is part of the contract only for layer-norm extractors (group-norm models were trained on zero padding). */
export function needsAttentionMask(config: Pick<HubertConfigFields, 'feat_extract_norm'>): boolean {
  return config.feat_extract_norm === 'layer';
}

/** The preprocessor for a model: 16 kHz mono, normalisation as the model was trained. */
export function hubertPreprocessor(config: Pick<HubertConfigFields, 'feat_extract_norm'>, doNormalize: boolean): PreprocessorConfig {
  return {
    feature_extractor_type: 'Wav2Vec2FeatureExtractor',
    feature_size: 1,
    sampling_rate: 16000,
    padding_value: 0,
    padding_side: 'right',
    do_normalize: doNormalize,
    return_attention_mask: needsAttentionMask(config),
  };
}

/** What is wrong with a preprocessor_config.json for this model, each in words (empty: nothing). */
export function preprocessorProblems(p: Readonly<Record<string, unknown>>, config: Pick<HubertConfigFields, 'feat_extract_norm'>): string[] {
  const problems: string[] = [];
  if (p['feature_extractor_type'] !== 'Wav2Vec2FeatureExtractor') problems.push(`feature_extractor_type is ${JSON.stringify(p['feature_extractor_type'])}, not "Wav2Vec2FeatureExtractor"`);
  if (p['sampling_rate'] !== 16000) problems.push(`sampling_rate is ${JSON.stringify(p['sampling_rate'])}, not 16000`);
  if (p['feature_size'] !== 1) problems.push(`feature_size is ${JSON.stringify(p['feature_size'])}, not 1`);
  if (typeof p['do_normalize'] !== 'boolean') problems.push('do_normalize must be true or false');
  const wantMask = needsAttentionMask(config);
  if (p['return_attention_mask'] !== wantMask) {
    problems.push(`return_attention_mask is ${JSON.stringify(p['return_attention_mask'])} but a ${config.feat_extract_norm}-norm model ${wantMask ? 'needs the mask for batches' : 'was trained on zero-padded input without one'}; set it to ${wantMask}`);
  }
  return problems;
}
