/**
 * The folder under verification: the HF folder as readHfFolder reads it (config.json as written and over
 * transformers' defaults, the weights, the preprocessor), plus the conversion report when there is one.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type HfFolder, readHfFolder, readJsonObject } from '../readers/hf-folder.js';
import type { ReadOptions } from '../readers/index.js';

export interface VerifiedFolder extends HfFolder {
  conversionReport: Record<string, unknown> | null;
}

export function openFolder(dir: string, readOptions: ReadOptions = {}): VerifiedFolder {
  const folder = readHfFolder(dir, readOptions);
  try {
    const reportPath = join(dir, 'conversion_report.json');
    return { ...folder, conversionReport: existsSync(reportPath) ? readJsonObject(reportPath) : null };
  } catch (error) {
    folder.close();
    throw error;
  }
}
