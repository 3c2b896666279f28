// Types for error-codes-md.mjs, so the test can import it.
import type { ErrorCodeEntry, ErrorKind } from '../src/errors.js';

export declare const START: string;
export declare const END: string;
export declare function renderErrorCodes(codes: Readonly<Record<string, ErrorCodeEntry>>, exitCodes: Readonly<Record<ErrorKind, number>>): string;
export declare function readmeSection(readme: string): string | null;
export declare function withSection(readme: string, section: string): string;
