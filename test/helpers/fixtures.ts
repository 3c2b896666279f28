import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));

/** Absolute path of a file under fixtures/. */
export function fixture(relative: string): string {
  return fileURLToPath(new URL(`../../fixtures/${relative}`, import.meta.url));
}

export function readJsonFixture<T = Record<string, unknown>>(relative: string): T {
  return JSON.parse(readFileSync(fixture(relative), 'utf8')) as T;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Every convertible fixture, with what it takes to convert it and what it must become. */
export const CONVERTIBLE = [
  { name: 'fairseq_base_dict', file: 'fairseq_base_dict.pt', kind: 'fairseq-hubert' },
  { name: 'fairseq_large_dictconfig', file: 'fairseq_large_dictconfig.pt', kind: 'fairseq-hubert' },
  { name: 'fairseq_base_namespace', file: 'fairseq_base_namespace.pt', kind: 'fairseq-hubert' },
  { name: 'fairseq_base_legacy', file: 'fairseq_base_legacy.pt', kind: 'fairseq-hubert' },
  { name: 'fairseq_base_fp16', file: 'fairseq_base_fp16.pt', kind: 'fairseq-hubert' },
  { name: 'fairseq_bn_posconv', file: 'fairseq_bn_posconv.pt', kind: 'fairseq-hubert' },
  { name: 'fairseq_ctc', file: 'fairseq_ctc.pt', kind: 'fairseq-hubert-ctc', dict: 'fairseq_ctc.dict.ltr.txt' },
  { name: 'fairseq_ctc_taskdict', file: 'fairseq_ctc_taskdict.pt', kind: 'fairseq-hubert-ctc' },
  { name: 's3prl_hubert', file: 's3prl_hubert.pt', kind: 's3prl-hubert' },
  { name: 'distilhubert', file: 'distilhubert.ckpt', kind: 'distilhubert' },
  { name: 'fairseq_ctc_fresh', file: 'fairseq_ctc_fresh.pt', kind: 'fairseq-hubert-ctc', upstream: 'fairseq_ctc_fresh_pretrained.pt' },
  { name: 'superb_downstream', file: 'superb_downstream.ckpt', kind: 'superb-downstream', upstream: 's3prl_hubert.pt' },
  { name: 'superb_er', file: 'superb_er.ckpt', kind: 'superb-downstream', upstream: 's3prl_hubert.pt' },
  { name: 'superb_sid', file: 'superb_sid.ckpt', kind: 'superb-downstream', upstream: 's3prl_hubert.pt' },
  { name: 'superb_ic', file: 'superb_ic.ckpt', kind: 'superb-downstream', upstream: 's3prl_hubert.pt', labels: 'slots' },
  { name: 'superb_ks_upstream', file: 'superb_ks_upstream.ckpt', kind: 'superb-downstream', upstream: 's3prl_hubert.pt' },
] as const;

/**
 * The intent-classification fixture's slot values as the generator wrote them into its fake train_data.csv
 * (fixtures/gen/real_s3prl.py IC_SLOTS), in --labels slot:value form.
 */
export const IC_SLOT_LABELS: readonly string[] = [
  ...['change language', 'activate', 'deactivate', 'increase', 'decrease', 'bring'].map((v) => `action:${v}`),
  ...['none', 'music', 'lights', 'volume', 'heat', 'lamp', 'newspaper', 'juice', 'socks', 'Chinese', 'Korean', 'English', 'German', 'shoes'].map((v) => `object:${v}`),
  ...['none', 'kitchen', 'bedroom', 'washroom'].map((v) => `location:${v}`),
];
