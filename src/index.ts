/**
 * hubert-convert as a library: everything the CLI does, reachable from code. Functions return structured results
 * and throw the typed errors of ./errors.js; nothing prints.
 */
export * from './errors.js';
export { ERROR_CODES, kindsOf } from './error-codes.js';
export * from './dtype.js';
export * from './tensor.js';
export * from './byte-source.js';
export type * from './model.js';
export { VERSION } from './version.js';

// read
export { readCheckpoint, unpickle, toPlainJson, pyGet, type Checkpoint, type CheckpointTensor, type GlobalUse, type ReadOptions } from './readers/index.js';
export { parseSafetensors, type SafetensorsFile } from './readers/safetensors.js';
export { readSafetensors } from './readers/disk-safetensors.js';
export { FileSource, NodeFolder, openInputFile, readInputBytes } from './node-files.js';
export { openHfWeights } from './readers/hf-folder.js';
export { readHfFolder, type HfFolder } from './readers/hf-folder.js';
export { inspectCheckpoint, type InspectReport } from './inspect.js';

// detect and map
export { toHuggingFace, detectSource, parseConvFeatureLayers, framesFor } from './mappings/index.js';
export type { Conversion, ConversionOptions, SourceKind, MappedTensor, DroppedTensor, TokenizerFiles, Detection, ConvLayerSpec } from './mappings/index.js';

// the architecture spec and the validate stage
export { specFor, SPECS, HUBERT_SPEC, type ArchitectureSpec } from './architectures/index.js';
export { TensorSchema, HUBERT_PARTS, HUBERT_CONFIG_FIELDS, HUBERT_NAMES, type SchemaPart } from './architectures/hubert/index.js';
export { validateModel } from './architectures/validate.js';
export { validateConversion } from './validate.js';
export { countNonFinite, scanNonFinite, type NonFiniteTensor } from './non-finite.js';
export { SOURCES, REFUSED_FAMILIES, type SourceEntry, type RefusedFamily } from './mappings/index.js';

// write
export { writeSafetensors } from './writers/disk-safetensors.js';
export { writeShardedSafetensors } from './writers/disk-safetensors.js';
export { writeHuggingFaceFolder, type ConversionReport, type OutputDType, type WriteFolderOptions } from './writers/folder.js';
export { buildOnnx, type BuildOnnxOptions, type OnnxFileInfo, type OnnxVariant, ONNX_VARIANTS, VARIANT_FILES, VARIANT_SPECS, type VariantSpec } from './writers/onnx/index.js';
export { convert, loadSource, type ConvertOptions, type ConvertResult } from './convert.js';

// verify
export { verify, formatVerifyReport, referenceForward, type VerifyOptions, type VerifyReport } from './verify/index.js';
export { minimumSamples, type VerifyProgress } from './verify/index.js';
export { type KMeansQuantizer, readKMeans } from './readers/kmeans.js';
export { type OutputOptions, type OutputSpec, type OutputsRecord, describeOutputs, resolveOutputs } from './outputs.js';
export { PROFILES, type Profile, type ProfileName } from './profiles.js';
