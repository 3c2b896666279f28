import { CorruptInputError } from '../errors.js';
import type { TokenizerFiles } from './types.js';

/** fairseq's Dictionary starts with these four, in this order, before any symbol read from a file. */
const FAIRSEQ_SPECIALS = ['<s>', '<pad>', '</s>', '<unk>'] as const;

/** The 1-based number of the first line of `bytes` that is not valid UTF-8 (a newline byte never occurs inside a UTF-8 sequence). */
function firstInvalidLine(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let start = 0;
  let line = 1;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    try {
      decoder.decode(bytes.subarray(start, i));
    } catch {
      return line;
    }
    start = i + 1;
    line++;
  }
  return line;
}

/**
 * A dictionary file's text. fairseq reads it as UTF-8; invalid bytes are an error (a lenient decoder would turn
 * them into U+FFFD symbols that match nothing the model was trained on).
 */
export function decodeFairseqDict(bytes: Uint8Array, name = 'the dictionary'): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const line = firstInvalidLine(bytes);
    throw new CorruptInputError('E_DICT_ENCODING', `${name} is not UTF-8 text (invalid bytes on line ${line}); fairseq dictionaries are UTF-8, one "<symbol> <count>" per line`, { line });
  }
}

/**
 * Parses fairseq's `dict.*.txt` (`<symbol> <count> [#fairseq:overwrite]` per line) into the full symbol list
 * fairseq builds from it: the four specials first, then the file's symbols in order.
 */
export function parseFairseqDict(text: string): string[] {
  const symbols: string[] = [...FAIRSEQ_SPECIALS];
  const seen = new Set<string>(symbols);
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    if (line === '') return;
    let fields = line.split(' ');
    const overwrite = fields.at(-1) === '#fairseq:overwrite';
    if (overwrite) fields = fields.slice(0, -1);
    if (fields.length < 2 || !/^\d+$/.test(fields.at(-1)!)) {
      throw new CorruptInputError('E_DICT_SYNTAX', `dictionary line ${i + 1} is not "<symbol> <count>": ${JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw)}`, { line: i + 1 });
    }
    const symbol = fields.slice(0, -1).join(' ');
    if (symbol.includes('\0')) {
      throw new CorruptInputError('E_DICT_SYNTAX', `dictionary line ${i + 1}: the symbol contains a NUL character; this is not a text dictionary`, { line: i + 1 });
    }
    if (symbol.trim() === '') {
      throw new CorruptInputError('E_DICT_SYNTAX', `dictionary line ${i + 1}: empty symbol before the count; every line must be "<symbol> <count>"`, { line: i + 1 });
    }
    if (seen.has(symbol) && !overwrite) {
      throw new CorruptInputError('E_DICT_SYNTAX', `dictionary line ${i + 1}: duplicate symbol ${JSON.stringify(symbol)} (fairseq refuses this too)`, { line: i + 1 });
    }
    if (!seen.has(symbol)) symbols.push(symbol);
    seen.add(symbol);
  });
  return symbols;
}

/** The symbols of a fairseq target dictionary pickled in the checkpoint's task_state, if there is one. */
export function dictionarySymbols(root: Map<unknown, unknown>): string[] | undefined {
  const taskState = root.get('task_state');
  const dict = taskState instanceof Map ? taskState.get('target_dictionary') : undefined;
  const symbols = dict instanceof Map ? dict.get('symbols') : undefined;
  if (!Array.isArray(symbols)) return undefined;
  if (!symbols.every((s): s is string => typeof s === 'string')) {
    throw new CorruptInputError('E_DICT_SYNTAX', 'task_state.target_dictionary.symbols holds a value that is not a string');
  }
  return symbols;
}

/**
 * The Wav2Vec2CTCTokenizer files for a fairseq letter dictionary. fairseq puts `<s>` at 0 and `<pad>` at 1, but its
 * CTC blank is index 0; HF calls the blank `<pad>` and expects it at 0, so the two names swap (the weights do not).
 */
export function ctcTokenizer(fairseqSymbols: readonly string[], headRows: number): TokenizerFiles {
  if (fairseqSymbols.length !== headRows) {
    throw new CorruptInputError(
      'E_VOCAB_SIZE',
      `the dictionary has ${fairseqSymbols.length} symbols (with fairseq's 4 specials) but the CTC head has ${headRows} rows; this is not the dictionary the model was fine-tuned with`,
    );
  }
  if (FAIRSEQ_SPECIALS.some((s, i) => fairseqSymbols[i] !== s)) {
    throw new CorruptInputError('E_DICT_SYNTAX', `the dictionary does not start with fairseq's specials ${FAIRSEQ_SPECIALS.join(' ')}`);
  }
  const symbols = ['<pad>', '<s>', ...fairseqSymbols.slice(2)];
  const vocab = Object.fromEntries(symbols.map((s, i) => [s, i]));
  const specials = { bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>' };
  const tokenizerConfig = {
    tokenizer_class: 'Wav2Vec2CTCTokenizer',
    ...specials,
    word_delimiter_token: '|',
    replace_word_delimiter_char: ' ',
    do_lower_case: false,
    clean_up_tokenization_spaces: false,
  };
  // transformers.js reads tokenizer.json: a plain vocab model (its "Legacy" model) and the CTC decoder, which
  // collapses repeats, removes the blank and turns the word delimiter into spaces.
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: (['<pad>', '<s>', '</s>', '<unk>'] as const).map((content) => ({
      id: vocab[content],
      content,
      single_word: false,
      lstrip: true,
      rstrip: true,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'CTC', pad_token: '<pad>', word_delimiter_token: '|', cleanup: true },
    model: { vocab },
  };
  return { vocab, tokenizerConfig, specialTokensMap: specials, tokenizerJson };
}
