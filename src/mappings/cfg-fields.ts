import { CorruptInputError } from '../errors.js';

/**
 * Reading typed fields out of a checkpoint's config (a Python dict, omegaconf DictConfig or argparse.Namespace,
 * all Maps by the time they reach us). A missing field takes the default of the class that wrote the checkpoint
 * (fairseq/s3prl fill missing keys the same way when they load); a present field of the wrong type is an error.
 */
export type CfgMap = ReadonlyMap<unknown, unknown>;

export function isCfgMap(value: unknown): value is CfgMap {
  return value instanceof Map;
}

export class CfgReader {
  constructor(
    private readonly cfg: CfgMap,
    /** Where this config lives, for messages, e.g. `cfg.model`. */
    readonly where: string,
    private readonly fallback?: CfgReader,
  ) {}

  has(name: string): boolean {
    const v = this.cfg.get(name);
    return (v !== undefined && v !== null) || (this.fallback?.has(name) ?? false);
  }

  raw(name: string): unknown {
    const v = this.cfg.get(name);
    if ((v === undefined || v === null) && this.fallback) return this.fallback.raw(name);
    return v;
  }

  private typed<T>(name: string, fallback: T, check: (v: unknown) => v is T, what: string): T {
    const v = this.raw(name);
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'bigint' && what === 'a number') return Number(v) as T;
    if (!check(v)) {
      throw new CorruptInputError('E_CONFIG_FIELD', `${this.where}.${name} should be ${what} but is ${JSON.stringify(String(v))}`);
    }
    return v;
  }

  number(name: string, fallback: number): number {
    return this.typed(name, fallback, (v): v is number => typeof v === 'number' && Number.isFinite(v), 'a number');
  }
  string(name: string, fallback: string): string {
    return this.typed(name, fallback, (v): v is string => typeof v === 'string', 'a string');
  }
  boolean(name: string, fallback: boolean): boolean {
    return this.typed(name, fallback, (v): v is boolean => typeof v === 'boolean', 'true or false');
  }
  map(name: string): CfgReader | undefined {
    const v = this.raw(name);
    return isCfgMap(v) ? new CfgReader(v, `${this.where}.${name}`) : undefined;
  }
}
