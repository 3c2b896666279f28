/**
 * The one list of error codes. Every `E_...` code hubert-convert can raise is a key here, with the error kind it is
 * raised with (which fixes the CLI exit code, see EXIT_CODES in ./errors.ts) and one line for users: what it means and
 * the usual fix. The error classes take only these codes (an unknown code, or one raised with a kind the table does
 * not give it, is a compile error), `test/errors/codes.test.ts` checks the table against the sources, and the README's
 * "Error codes" reference is rendered from it (`node scripts/error-codes-md.mjs` after `npm run build`).
 *
 * A new code is one entry, alphabetical within its group. A list of kinds is for a code that names one field or
 * check on both sides of a boundary (a file we read vs. arguments a library caller passes), never for a code that
 * could be one kind.
 */
import type { ErrorKind } from './errors.js';

export interface ErrorCodeEntry {
  readonly kind: ErrorKind | readonly ErrorKind[];
  readonly summary: string;
}

export const ERROR_CODES = {
  // --- input files and folders: paths that are not what the command needs -------------------------------------------
  E_FILE_NOT_FOUND: { kind: 'io', summary: 'An input file does not exist; check the path.' },
  E_FILE_READ: { kind: 'io', summary: 'An input file exists but cannot be opened or read (permissions, I/O error); check it can be read.' },
  E_FILE_TOO_LARGE: { kind: 'io', summary: 'An input is larger than the size limit for what is expected there (a dictionary, audio, JSON); pass the right file.' },
  E_HF_WEIGHTS_MISSING: { kind: 'io', summary: 'A Hugging Face folder has neither model.safetensors nor model.safetensors.index.json; save the model with safetensors.' },
  E_HUB_ID_NOT_LOCAL: { kind: 'io', summary: 'The path looks like a Hub model id; hubert-convert never downloads: download the folder first and pass it.' },
  E_IS_DIRECTORY: { kind: 'io', summary: 'A file is expected but the path is a directory; pass the checkpoint (or side-input) file itself.' },
  E_NOT_A_FOLDER: { kind: 'io', summary: 'A Hugging Face model folder is expected but the path is not a folder; pass the folder.' },
  E_NOT_FOUND: { kind: 'io', summary: 'A named input (source, --source, --upstream, the demo fixture) does not exist; check the path.' },
  E_NOT_REGULAR_FILE: { kind: 'io', summary: 'The input is a device, FIFO or socket; inputs are read from regular files only (symlinks to them are fine).' },
  E_NO_CONFIG_JSON: { kind: 'io', summary: 'A Hugging Face folder has no config.json; pass a complete model folder.' },

  // --- readers/pickle: our unpickler refuses code execution and damaged streams ---------------------------------------
  E_PICKLE_BAD_APPEND: { kind: 'corrupt', summary: 'The pickle appends items to a value that is not a list or set; the file is damaged or hand-made.' },
  E_PICKLE_BAD_BUILD: { kind: 'corrupt', summary: 'The pickle sets state (BUILD) on a value that has none; the file is damaged or hand-made.' },
  E_PICKLE_BAD_BYTES: { kind: 'corrupt', summary: 'Latin-1 encoded bytes in the pickle hold a character above U+00FF; the file is damaged.' },
  E_PICKLE_BAD_GLOBAL: { kind: 'corrupt', summary: 'A global module or name in the pickle is longer than 4096 bytes; the file is damaged or hand-made.' },
  E_PICKLE_BAD_GLOBAL_NAME: { kind: 'unsafe', summary: 'The pickle names a global no Python module can hold (empty or malformed name); a hand-made file, refused.' },
  E_PICKLE_BAD_LENGTH: { kind: 'corrupt', summary: 'A length in the pickle is negative; the file is damaged.' },
  E_PICKLE_BAD_NUMBER: { kind: 'corrupt', summary: 'A text integer, float or memo key in the pickle is malformed; the file is damaged.' },
  E_PICKLE_BAD_OPCODE: { kind: 'corrupt', summary: 'The pickle holds an unknown opcode; the file is not a pickle or is damaged.' },
  E_PICKLE_BAD_REDUCE: { kind: 'corrupt', summary: 'A call in the pickle has arguments that are not a tuple; the file is damaged or hand-made.' },
  E_PICKLE_BAD_SETITEM: { kind: 'corrupt', summary: 'The pickle sets dict items on a value that is not a dict, or a key has no value; the file is damaged.' },
  E_PICKLE_BAD_STRING: { kind: 'corrupt', summary: 'A string in the pickle is not valid UTF-8, unquoted or holds an invalid code point; the file is damaged.' },
  E_PICKLE_EXTENSION: { kind: 'unsafe', summary: 'The pickle uses the copyreg extension registry, whose globals cannot be checked; refused.' },
  E_PICKLE_LIMIT: { kind: 'corrupt', summary: 'The pickle exceeds a reader limit (size, nesting, objects, walk steps); raise the `limits` option only if the file is trusted.' },
  E_PICKLE_MEMO: { kind: 'corrupt', summary: 'The pickle reads a memo entry it never stored; the file is damaged.' },
  E_PICKLE_NO_MARK: { kind: 'corrupt', summary: 'An opcode in the pickle needs a MARK that is not there; the file is damaged.' },
  E_PICKLE_OUT_OF_BAND: { kind: 'corrupt', summary: 'The pickle expects out-of-band buffers (protocol 5), which a file cannot carry; re-save it with torch.save.' },
  E_PICKLE_PROTOCOL: { kind: 'corrupt', summary: 'The pickle declares a protocol newer than 5; the file is damaged or not from torch.save.' },
  E_PICKLE_STACK_UNDERFLOW: { kind: 'corrupt', summary: 'The pickle pops a value from an empty stack; the file is damaged.' },
  E_PICKLE_TRUNCATED: { kind: 'corrupt', summary: 'The pickle ends before its STOP opcode; the file is truncated: download or copy it again.' },
  E_PICKLE_UNSAFE_ARGUMENT: { kind: 'unsafe', summary: 'An allowed pickle global is called with arguments outside what torch.save writes; refused.' },
  E_PICKLE_UNSAFE_CALL: { kind: 'unsafe', summary: 'The pickle calls something that is not an allowed global (torch.load would run it); refused.' },
  E_PICKLE_UNSAFE_GLOBAL: { kind: 'unsafe', summary: 'The pickle references a global that could run code or is not on the allow-list; --allow-global keeps a trusted data class as an inert record.' },

  // --- zip/torch: torch.save archives, legacy files, storages and tensor views ----------------------------------------
  E_ALREADY_SAFETENSORS: { kind: 'corrupt', summary: 'The checkpoint path is a safetensors file; to convert a Hugging Face model, pass its folder.' },
  E_EMPTY_FILE: { kind: 'corrupt', summary: 'The checkpoint is 0 bytes; the download or copy failed: fetch it again.' },
  E_GIT_LFS_POINTER: { kind: 'corrupt', summary: 'The file is a git-lfs pointer, not the checkpoint; run `git lfs pull` in its repository.' },
  E_NOT_A_CHECKPOINT: { kind: 'corrupt', summary: 'The file is not a PyTorch checkpoint (for instance an HTML error page); download the checkpoint again.' },
  E_STORAGE_SIZE: { kind: 'corrupt', summary: 'A storage record holds a different number of bytes than the pickle declares; the file is damaged.' },
  E_TENSOR_BAD_VIEW: { kind: 'corrupt', summary: 'A tensor has an invalid view (offset, size, stride) or an absurd shape; the file is damaged.' },
  E_TENSOR_BROADCAST: { kind: 'corrupt', summary: 'A kept tensor is a broadcast view (stride 0); save it with .contiguous() (or .clone()) before torch.save.' },
  E_TENSOR_OUT_OF_BOUNDS: { kind: 'corrupt', summary: 'A tensor view reaches past the end of its storage; the file is damaged.' },
  E_TENSOR_OVERLAP: { kind: 'corrupt', summary: 'A kept tensor overlaps itself or shares bytes with another; save it with .contiguous() (or .clone()) before torch.save.' },
  // corrupt: a shape that claims more than 2^53 bytes; unsupported: a real tensor over the 4 GiB in-memory limit
  E_TENSOR_TOO_LARGE: { kind: ['corrupt', 'unsupported'], summary: 'A tensor is impossibly large (over 2^53 bytes: damaged file) or too large to hold in memory (over 4 GiB).' },
  E_TENSOR_UNSUPPORTED_DTYPE: { kind: 'unsupported', summary: 'A storage has an element type hubert-convert does not handle (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL).' },
  E_TORCH_BAD_PERSISTENT_ID: { kind: 'corrupt', summary: 'A storage reference in the pickle is malformed or declared twice differently; the file is damaged.' },
  E_TORCH_BIG_ENDIAN: { kind: 'unsupported', summary: 'The checkpoint was saved on a big-endian machine; load and re-save it on a little-endian one.' },
  E_TORCH_LEGACY_KEYS: { kind: 'corrupt', summary: "A legacy torch file's storage key list is malformed or names an unused storage; the file is damaged." },
  E_TORCH_LEGACY_MAGIC: { kind: 'corrupt', summary: 'The file has the wrong magic number for a legacy torch file; it is damaged or not a checkpoint.' },
  E_TORCH_LEGACY_PROTOCOL: { kind: 'corrupt', summary: 'A legacy torch file declares an unknown protocol version; it is damaged or not a checkpoint.' },
  E_TORCH_MISSING_RECORD: { kind: 'corrupt', summary: 'A storage a tensor uses is missing from the archive or storage list; the file is truncated or damaged.' },
  E_TORCH_NO_DATA_PKL: { kind: 'corrupt', summary: 'The zip has no data.pkl record; it is not a torch.save checkpoint.' },
  E_TORCH_SCRIPT_ARCHIVE: { kind: 'corrupt', summary: "The file is a TorchScript archive (torch.jit.save); save the model's state_dict() with torch.save instead." },
  E_TORCH_STORAGE_DTYPE_CONFLICT: { kind: 'corrupt', summary: 'One storage record is used with two dtypes, which torch would misread; the file is hand-made or damaged.' },
  E_TORCH_TAR_FORMAT: { kind: 'unsupported', summary: 'A tar-format torch file (PyTorch < 0.4); load and re-save it with a current PyTorch.' },
  E_TRUNCATED: { kind: 'corrupt', summary: 'The file ends before data it declares (or changed while being read); download or copy it again.' },
  E_ZIP_COMPRESSED: { kind: 'corrupt', summary: 'A zip record is compressed; torch.save writes stored records, so re-save the checkpoint with torch.save.' },
  E_ZIP_CORRUPT: { kind: 'corrupt', summary: "The zip's central directory or a record header is inconsistent; the file is damaged." },
  E_ZIP_EMPTY: { kind: 'corrupt', summary: 'The zip archive has no records; it is not a torch checkpoint.' },
  E_ZIP_ENCRYPTED: { kind: 'corrupt', summary: 'A zip record is encrypted; torch.save never writes that, so the file is not a plain checkpoint.' },
  E_ZIP_NAME_MISMATCH: { kind: 'corrupt', summary: "A zip record's local header names another file than the central directory; refused as readers would disagree." },
  E_ZIP_NO_DIRECTORY: { kind: 'corrupt', summary: 'No zip end-of-central-directory record; the download is truncated or the file is not a zip.' },
  E_ZIP_TOO_MANY_ENTRIES: { kind: 'corrupt', summary: 'The zip lists more than 262,144 records; not a checkpoint hubert-convert reads.' },

  // --- safetensors/json: safetensors files, their index, JSON files of a model folder ---------------------------------
  E_BAD_JSON: { kind: 'corrupt', summary: "A JSON file of a model folder is not valid JSON or not an object; re-run the conversion to rewrite it." },
  // corrupt: not a safetensors dtype; unsupported: a safetensors dtype we do not handle (F8...); usage: a library
  // caller asked the writer for a dtype it cannot write
  E_SAFETENSORS_DTYPE: { kind: ['corrupt', 'unsupported', 'usage'], summary: 'A tensor dtype is not a safetensors dtype, or one hubert-convert does not read or write; convert the tensor to a float dtype.' },
  E_SAFETENSORS_DUPLICATE_KEY: { kind: 'corrupt', summary: 'A key appears twice in the safetensors header; readers disagree on which counts, so the file is refused.' },
  E_SAFETENSORS_DUPLICATE_NAME: { kind: 'usage', summary: 'The writer was given the same tensor name twice; each name may appear once in a file.' },
  E_SAFETENSORS_DUPLICATE_TENSOR: { kind: 'corrupt', summary: 'A tensor appears in two shards of a sharded safetensors model; the folder is damaged.' },
  E_SAFETENSORS_ENTRY: { kind: 'corrupt', summary: 'A safetensors header entry lacks dtype, shape or data_offsets; the file is damaged.' },
  E_SAFETENSORS_HEADER_JSON: { kind: 'corrupt', summary: 'The safetensors header is not a JSON object; the file is damaged or not safetensors.' },
  E_SAFETENSORS_HEADER_TOO_LARGE: { kind: 'corrupt', summary: 'The safetensors header length exceeds the 100 MB limit; the file is damaged or not safetensors.' },
  E_SAFETENSORS_HEADER_TRUNCATED: { kind: 'corrupt', summary: 'The safetensors header length reaches past the end of the file; the file is truncated.' },
  E_SAFETENSORS_HEADER_UTF8: { kind: 'corrupt', summary: 'The safetensors header is not valid UTF-8; the file is damaged or not safetensors.' },
  E_SAFETENSORS_HOLE: { kind: 'corrupt', summary: 'Bytes between two tensors of a safetensors file belong to no tensor; the file is damaged or hand-made.' },
  E_SAFETENSORS_INDEX: { kind: 'corrupt', summary: 'model.safetensors.index.json is not valid (JSON, weight_map, shard names); re-save the model.' },
  E_SAFETENSORS_INDEX_MISMATCH: { kind: 'corrupt', summary: 'The safetensors index and its shards disagree on where a tensor is; re-save the model.' },
  // corrupt: a file's __metadata__ is not a map of strings; usage: a library caller passed such metadata to the writer
  E_SAFETENSORS_METADATA: { kind: ['corrupt', 'usage'], summary: 'Safetensors __metadata__ must map strings to strings; the file is damaged (or the writer was given other values).' },
  E_SAFETENSORS_OFFSETS: { kind: 'corrupt', summary: 'A tensor\'s data_offsets are not [begin, end] with 0 <= begin <= end; the file is damaged.' },
  E_SAFETENSORS_OPEN: { kind: 'io', summary: 'A safetensors file cannot be opened (missing, permissions); check the path.' },
  E_SAFETENSORS_OUT_OF_BOUNDS: { kind: 'corrupt', summary: "A tensor's data_offsets reach past the data area; the file is truncated or damaged." },
  E_SAFETENSORS_OVERLAP: { kind: 'corrupt', summary: 'Two tensors of a safetensors file share bytes; the file is damaged or hand-made.' },
  E_SAFETENSORS_SHAPE: { kind: 'corrupt', summary: 'A tensor shape is not a list of non-negative integers; the file is damaged.' },
  E_SAFETENSORS_SHARD_MISSING: { kind: 'io', summary: 'The safetensors index lists a shard that is not in the folder; copy the whole model folder.' },
  E_SAFETENSORS_SIZE_MISMATCH: { kind: 'corrupt', summary: "A tensor's dtype and shape need another byte count than its data_offsets span; the file is damaged." },
  E_SAFETENSORS_TENSOR_NAME: { kind: 'usage', summary: 'The writer was given an empty, "__metadata__" or non-Unicode tensor name.' },
  E_SAFETENSORS_TENSOR_SIZE: { kind: 'usage', summary: "The writer was given a tensor whose byte length does not match its dtype and shape." },
  E_SAFETENSORS_TOO_MANY_TENSORS: { kind: 'corrupt', summary: 'A safetensors file or index lists more than 100,000 tensors; not a model hubert-convert reads.' },
  E_SAFETENSORS_TOO_SHORT: { kind: 'corrupt', summary: 'The file is shorter than the 8-byte safetensors header length; it is damaged or not safetensors.' },
  E_SAFETENSORS_TRAILING_BYTES: { kind: 'corrupt', summary: 'Bytes after the last tensor of a safetensors file belong to no tensor; the file is damaged or hand-made.' },

  // --- mapping/config/spec: detecting the source, deriving config.json, holding the model to its spec -----------------
  E_ACTIVATION: { kind: 'unsupported', summary: 'The checkpoint uses an activation function other than gelu; HuBERT checkpoints use gelu.' },
  E_CONFIG_FIELD: { kind: 'corrupt', summary: "A field of the checkpoint's config has the wrong type; the file is damaged or edited." },
  E_CONFIG_INVALID: { kind: 'corrupt', summary: "The model config breaks HubertConfig's rules (ranges, fields that must agree); fix config.json or the checkpoint's config." },
  E_CONFIG_MISMATCH: { kind: 'corrupt', summary: "The checkpoint's config contradicts its tensors (sizes, layer counts); the file is inconsistent." },
  E_CONV_LAYERS_SYNTAX: { kind: 'unsupported', summary: 'conv_feature_layers is not a list expression hubert-convert understands, or is over its size bounds.' },
  E_DICT_ENCODING: { kind: 'corrupt', summary: 'The --dict file is not UTF-8 text; pass the fairseq dict.ltr.txt.' },
  E_DICT_SYNTAX: { kind: 'corrupt', summary: 'The dictionary is not fairseq\'s "<symbol> <count>" format (bad line, NUL, empty or repeated symbol); pass dict.ltr.txt.' },
  E_DUPLICATE_TARGET: { kind: 'corrupt', summary: 'Two source tensors map to the same Hugging Face tensor; the checkpoint holds conflicting weights.' },
  E_EXTRACTOR_MODE: { kind: 'unsupported', summary: 'extractor_mode is neither "default" (group norm) nor "layer_norm"; transformers\' HuBERT has no other.' },
  E_LAYER_TYPE: { kind: 'unsupported', summary: 'The encoder layer_type is not "transformer" (e.g. conformer); transformers\' HuBERT has transformer layers only.' },
  E_MISSING_TENSOR: { kind: 'corrupt', summary: 'A tensor the config requires is missing (every name listed); the file is damaged or edited.' },
  E_NOT_CONVERTIBLE: { kind: 'unsupported', summary: 'A SUPERB downstream head that HubertForSequenceClassification cannot represent.' },
  E_NO_CONFIG: { kind: 'corrupt', summary: 'The checkpoint has no model config (cfg/args) to derive config.json from; convert the original training checkpoint.' },
  E_NO_CTC_HEAD: { kind: 'corrupt', summary: 'A fine-tuned CTC checkpoint lacks w2v_encoder.proj.weight; the file is damaged or not a CTC fine-tune.' },
  E_NO_STATE_DICT: { kind: 'corrupt', summary: 'The checkpoint has no state dict of tensors where its kind keeps one; the file is damaged or another kind.' },
  E_NO_VOCABULARY: { kind: 'corrupt', summary: 'A CTC checkpoint holds no target dictionary; pass the one it was fine-tuned with: --dict dict.ltr.txt.' },
  E_TENSOR_DTYPE: { kind: 'corrupt', summary: 'A tensor has the wrong dtype for its place in the model (every name listed); the file is damaged or edited.' },
  E_TENSOR_SHAPE: { kind: 'corrupt', summary: 'A tensor has the wrong shape for the config (every name listed); the file is damaged or the config edited.' },
  E_UNEXPECTED_TENSOR: { kind: 'corrupt', summary: 'A tensor is not part of the model its config describes (every name listed); the file is damaged or edited.' },
  E_UNKNOWN_KEYS: { kind: 'unsupported', summary: "Tensors match no rule of the source family's rename table; the checkpoint has parts HuBERT does not." },
  E_UNKNOWN_SOURCE: { kind: 'unsupported', summary: 'The checkpoint is no source kind hubert-convert recognises; use --kind to force one if you know it.' },
  E_UNSUPPORTED_FAMILY: { kind: 'unsupported', summary: 'The checkpoint is another model family (wav2vec 2.0, WavLM, data2vec-audio, conformer...), not HuBERT.' },
  E_UNSUPPORTED_MODEL: { kind: 'unsupported', summary: "A Hugging Face folder's model_type or architecture is not one hubert-convert handles." },
  E_VOCAB_SIZE: { kind: 'corrupt', summary: 'The dictionary size differs from the CTC head\'s rows; pass the dictionary the model was fine-tuned with.' },

  // --- writers/output: the output folder and what may be written there ------------------------------------------------
  E_OUTPUT_EXISTS: { kind: 'io', summary: 'The output folder exists and is not empty; choose another or pass --force.' },
  E_OUTPUT_NOT_OURS: { kind: 'io', summary: '--force replaces only an empty folder or one hubert-convert wrote; remove the folder yourself.' },
  E_OUTPUT_WRITE: { kind: 'io', summary: 'Writing the output failed (disk full, permissions); check the output location. Nothing was published.' },
  E_OUT_OVERLAPS_INPUT: { kind: 'io', summary: '--out is, contains or lies inside an input; choose an output folder outside the inputs.' },
  E_SIZE_FORMAT: { kind: 'usage', summary: 'A size (--max-shard-size) is not a positive number of bytes or a number with a unit such as 5GB or 500MB.' },

  // --- ONNX: the graph builder and its external data ------------------------------------------------------------------
  E_ACCURACY_REFERENCE: { kind: 'usage', summary: 'A library caller measured variant accuracy without an fp32 graph and without the model to build one; pass the model.' },
  E_ONNX_ACTIVATION: { kind: 'unsupported', summary: 'The config uses an activation the ONNX exporter does not support (gelu, gelu_new, gelu_pytorch_tanh, relu, silu).' },
  E_ONNX_ARCHITECTURE: { kind: 'unsupported', summary: 'The model architecture has no ONNX export; convert without --onnx.' },
  E_ONNX_CONFIG: { kind: 'unsupported', summary: 'The config cannot be built as an ONNX graph (conv lists of different lengths, indivisible sizes).' },
  E_ONNX_EXTERNAL_DATA: { kind: 'corrupt', summary: "An ONNX graph's external data file is missing or shorter than the graph says; copy the folder again with its *.onnx_data files." },
  E_ONNX_EXTERNAL_PATH: { kind: 'unsafe', summary: 'An ONNX initializer keeps its data outside the model folder (absolute path or ..); refused: external data must be a file next to the graph.' },
  E_ONNX_LIMIT: { kind: 'corrupt', summary: 'An ONNX file exceeds a reader limit (nodes, initializers, names, message sizes); the file is damaged or hand-made.' },
  E_ONNX_MISSING_TENSOR: { kind: 'corrupt', summary: 'A tensor the ONNX graph needs is missing; the config does not match the weights.' },
  E_ONNX_PROTO: { kind: 'corrupt', summary: 'An ONNX file is not a valid ModelProto (bad field, length beyond its message, no graph); export or download it again.' },
  E_ONNX_SPARSE: { kind: 'unsupported', summary: 'An ONNX graph holds sparse or segmented initializers, which verify does not read; verify a graph with dense initializers.' },
  E_ONNX_TENSOR_DTYPE: { kind: 'corrupt', summary: 'A tensor the ONNX graph uses as a weight is not a float tensor; the file is damaged or edited.' },
  E_ONNX_TENSOR_SHAPE: { kind: 'corrupt', summary: 'A tensor has another shape than the config implies for the ONNX graph; the config does not match the weights.' },
  E_ONNX_TRUNCATED: { kind: 'corrupt', summary: 'An ONNX file ends inside a field it declares; the file is truncated: export or download it again.' },
  E_ONNX_VARIANT: { kind: 'usage', summary: 'An unknown ONNX variant was asked for; use the transformers.js dtype names fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4.' },
  E_ONNX_WEIGHT_NORM: { kind: 'corrupt', summary: "The positional conv's weight_g does not match its weight_v; the file is damaged." },
  E_ONNX_WRITE: { kind: 'io', summary: 'An ONNX file cannot be created (disk full, permissions); check the output location.' },

  // --- outputs: --output-layer, --final-proj, --kmeans, --dedup-units, --profile, and the files they read ------------
  E_DEDUP_NEEDS_KMEANS: { kind: 'usage', summary: '--dedup-units deduplicates k-means units; give the quantizer with --kmeans FILE.' },
  E_INPUT_PADDING: { kind: 'corrupt', summary: 'The input padding a profile or folder declares is not a sample count from 0 to 16000; re-run the conversion.' },
  E_KMEANS_ARRAY: { kind: 'corrupt', summary: 'A numpy array in the k-means dump is malformed (dtype, shape, order, size); save the quantizer again with joblib.dump.' },
  E_KMEANS_CENTERS: { kind: 'corrupt', summary: 'The k-means cluster_centers_ is missing as an array or not float; save the fitted quantizer again.' },
  E_KMEANS_COMPRESSED: { kind: 'unsupported', summary: 'The k-means file is a compressed joblib dump; load it and save it again uncompressed (joblib.dump(km, path)).' },
  E_KMEANS_DIM: { kind: 'corrupt', summary: 'The k-means centres have another width than the chosen layer outputs; use the quantizer fitted on this model.' },
  E_KMEANS_FORMAT: { kind: 'corrupt', summary: 'The --kmeans file is neither a joblib k-means dump (learn_kmeans.py) nor a torch-saved k-means dict.' },
  E_KMEANS_NEEDS_LAYER: { kind: 'usage', summary: "--kmeans quantizes one layer's features; say which with --output-layer N." },
  E_KMEANS_NON_FINITE: { kind: 'corrupt', summary: 'A k-means cluster centre holds NaN or Inf; refit the quantizer.' },
  E_KMEANS_NOT_FITTED: { kind: 'corrupt', summary: 'The k-means estimator has no cluster_centers_ (saved before fitting); fit it, then save it.' },
  E_KMEANS_NOT_KMEANS: { kind: 'unsupported', summary: 'The --kmeans file holds something other than a fitted sklearn KMeans or a k-means dict.' },
  E_KMEANS_OBJECT_ARRAY: { kind: 'corrupt', summary: 'The k-means dump holds an object-dtype array (nested Python objects); refit and save it with joblib.dump.' },
  E_KMEANS_SHAPE: { kind: 'corrupt', summary: 'The k-means centres are not [n_clusters, n_features], exceed the size limit or contradict the declared counts.' },
  E_KMEANS_TRAILING: { kind: 'corrupt', summary: 'Bytes follow the end of the joblib pickle; the --kmeans file is not a joblib.dump file.' },
  E_NO_PROJECTION: { kind: 'usage', summary: 'The projection head is asked for but the model has none; convert the pretraining checkpoint, or drop the flag.' },
  E_OUTPUT_LAYER: { kind: 'usage', summary: "--output-layer is not a layer of this model (1-based, as fairseq's output_layer)." },
  E_PROFILE_AMBIGUOUS: { kind: 'usage', summary: '--profile names a project with several contracts; name one (e.g. rvc-v1, rvc-v2).' },
  E_PROFILE_CONFLICT: { kind: 'usage', summary: '--profile outputs features, so --kmeans does not go with it; drop one.' },
  E_PROFILE_LAYER: { kind: 'usage', summary: "The profile's layer is beyond this model's layers; pass --output-layer N to choose one." },
  E_PROFILE_UNKNOWN: { kind: 'usage', summary: '--profile is not a known profile; see --help for the list.' },
  E_PROJECTION_FILE: { kind: 'corrupt', summary: "A folder's projection-head file does not hold exactly its weight and bias; re-run the conversion." },
  E_PROJECTION_SHAPE: { kind: 'corrupt', summary: "The projection head's weight and bias do not fit the model's hidden size; the file is damaged or edited." },

  // --- verify: its inputs (--audio, --expected), the float64 reference, the result -------------------------------------
  E_INPUT_TOO_SHORT: { kind: 'usage', summary: "An input has fewer samples than the model's receptive field (400 for HuBERT); pass a longer input." },
  E_VERIFY_ACTIVATION: { kind: 'unsupported', summary: "config.json names an activation the float64 reference does not know." },
  E_VERIFY_AUDIO_FORMAT: { kind: 'unsupported', summary: 'An --audio WAV is not mono 16 kHz PCM16/float32; resample it (e.g. ffmpeg -ac 1 -ar 16000).' },
  E_VERIFY_AUDIO_SHAPE: { kind: 'usage', summary: 'An --audio .npy is not one utterance (shape (N,) or (1, N)) or holds no samples.' },
  E_VERIFY_AUDIO_TYPE: { kind: 'usage', summary: '--audio takes a .wav (mono 16 kHz) or .npy file.' },
  E_VERIFY_EXPECTED_EMPTY: { kind: 'usage', summary: 'The --expected file holds no expected outputs.' },
  E_VERIFY_EXPECTED_INPUT: { kind: 'usage', summary: 'An input in the --expected file has the wrong shape or dtype, or is missing for its outputs.' },
  E_VERIFY_EXPECTED_NAME: { kind: 'usage', summary: 'A tensor in the --expected file is neither input.<name>, <input>.<output> nor an output name.' },
  E_VERIFY_EXPECTED_TYPE: { kind: 'usage', summary: '--expected takes a .safetensors (named activations) or .npy (one array) file.' },
  E_VERIFY_FAILED: { kind: 'verification', summary: 'convert --verify: a check failed, so nothing was written; see the report for the failing check.' },
  E_VERIFY_INPUT_SHAPE: { kind: 'usage', summary: 'The reference forward was given input_values or attention_mask of another size than batch × length.' },
  E_VERIFY_MISSING_TENSOR: { kind: 'corrupt', summary: "The folder lacks a tensor its config requires; its weights and config.json do not match." },
  E_VERIFY_NPY: { kind: 'corrupt', summary: 'A .npy file is malformed (magic, header, size); save it again with numpy.save.' },
  E_VERIFY_NPY_DTYPE: { kind: 'unsupported', summary: 'A .npy dtype is structured or not supported; save one little-endian float32 array.' },
  E_VERIFY_NPY_OBJECT: { kind: 'unsafe', summary: 'A .npy holds Python objects (a pickle); refused unread: save the samples as float32.' },
  E_VERIFY_READ: { kind: 'io', summary: 'A verify input (--audio, --expected) cannot be opened; check the path and permissions.' },
  E_VERIFY_TENSOR_DTYPE: { kind: 'corrupt', summary: 'A tensor the float64 reference needs is not a float tensor; the folder is damaged or edited.' },
  E_VERIFY_TENSOR_SHAPE: { kind: 'corrupt', summary: 'A tensor has another shape than the config implies; the folder is damaged or edited.' },
  E_VERIFY_WAV: { kind: 'corrupt', summary: 'An --audio WAV is malformed (RIFF chunks, sizes); export it again.' },

  // --- CLI/usage: flags, side inputs (--labels, --upstream) and library options ---------------------------------------
  E_BAD_OPTION: { kind: 'usage', summary: 'An option has a value it does not take (e.g. an --onnx name that is not a transformers.js dtype); see --help.' },
  E_BAD_UPSTREAM: { kind: 'usage', summary: '--upstream is not the kind of checkpoint this source needs (a fairseq or s3prl HuBERT).' },
  E_DUPLICATE_LABELS: { kind: 'usage', summary: 'The class labels (after slot:value naming) repeat a name; give every class its own label.' },
  E_KIND_NEEDS_FOLDER: { kind: 'usage', summary: '--kind hf-folder applies to a Hugging Face folder, not a checkpoint file.' },
  E_LABELS_DUPLICATE: { kind: 'usage', summary: '--labels names a class more than once; every class needs its own name.' },
  E_LABELS_EMPTY: { kind: 'usage', summary: '--labels has an empty name; give every class a name, separated by commas.' },
  E_LABEL_COUNT: { kind: 'usage', summary: "--labels gives another number of labels than the classifier's classes." },
  E_NEEDS_HEADS: { kind: 'usage', summary: 'A bshall/hubert state dict does not record its attention heads (derived only for 768-wide releases); pass --heads N.' },
  E_NEEDS_UPSTREAM: { kind: 'usage', summary: 'A SUPERB head or a fresh fairseq fine-tune has no architecture of its own; pass --upstream <pretrained checkpoint>.' },
  E_NO_OUTPUT: { kind: 'usage', summary: 'No output folder was given; pass --out <dir>.' },
  E_UPSTREAM_MISMATCH: { kind: 'usage', summary: '--upstream is not the pretrained model this checkpoint was fine-tuned from; pass that one.' },
  E_USAGE_ALLOW_GLOBAL: { kind: 'usage', summary: '--allow-global is not a dotted module.name global name.' },
  E_USAGE_MEMORY_BUDGET: { kind: 'usage', summary: '--memory-budget (memoryBudgetMiB) is not a number of MiB ≥ 0 (0 or "whole" runs every ONNX graph whole).' },
  E_USAGE_PICKLE_LIMIT: { kind: 'usage', summary: 'A pickle limit option is not a positive integer.' },

  // --- internal: a bug in hubert-convert; please report it with the command (and --debug) ----------------------------
  E_INTERNAL: { kind: 'internal', summary: 'An unexpected error (not a HubertConvertError); a bug: report it with the command you ran and --debug output.' },
  E_INTERNAL_RING_SLOT: { kind: 'internal', summary: 'The output-hashing ring was asked for a buffer larger than its slots; a bug: please report it.' },
  E_INTERNAL_SINK_DIGEST: { kind: 'internal', summary: "An output file's digest was asked for before its bytes were all written; a bug: please report it." },
  E_INTERNAL_SINK_ORDER: { kind: 'internal', summary: 'An output file was written out of order while its hash was being computed; a bug: please report it.' },
  E_INTERNAL_TENSOR_RANGE: { kind: 'internal', summary: 'A tensor read asked for bytes outside the tensor; a bug: please report it.' },
  E_INTERNAL_UNBOUND_STORAGE: { kind: 'internal', summary: 'A tensor storage was read before being bound to file bytes; a bug: please report it.' },
  E_ONNX_BLOB_LENGTH: { kind: 'internal', summary: 'An ONNX external-data blob came out with another length than planned; a bug: please report it.' },
  E_SAFETENSORS_WRITE_SIZE: { kind: 'internal', summary: "A tensor's chunks did not add up to its planned byte length while writing; a bug: please report it." },
} as const satisfies Record<`E_${string}`, ErrorCodeEntry>;

export type ErrorCode = keyof typeof ERROR_CODES;

type KindsOf<C extends ErrorCode> = (typeof ERROR_CODES)[C]['kind'] extends infer K ? (K extends readonly (infer E)[] ? E : K) : never;

/** The codes the table allows with `kind`: what each error class accepts. */
export type ErrorCodeOf<K extends ErrorKind> = { [C in ErrorCode]: K extends KindsOf<C> ? C : never }[ErrorCode];

/** The kinds a code may be raised with (one, or the few the table lists). */
export function kindsOf(code: ErrorCode): readonly ErrorKind[] {
  const kind: ErrorKind | readonly ErrorKind[] = ERROR_CODES[code].kind;
  return typeof kind === 'string' ? [kind] : kind;
}
