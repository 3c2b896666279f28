/**
 * hubert-convert as a library: everything the CLI does, reachable from code. Functions return structured results
 * and throw the typed errors of ./errors.js; nothing prints.
 */
export * from './errors.js';
export * from './dtype.js';
export * from './tensor.js';
export * from './byte-source.js';
export type * from './model.js';
export { VERSION } from './version.js';

// read
export { readCheckpoint, unpickle, toPlainJson, pyGet, type Checkpoint, type CheckpointTensor, type GlobalUse, type ReadOptions } from './readers/index.js';
export { readSafetensors, type SafetensorsFile } from './readers/safetensors.js';
export { openHfWeights } from './readers/safetensors-index.js';
export { readHfFolder, type HfFolder } from './readers/hf-folder.js';
export { inspectCheckpoint, type InspectReport } from './inspect.js';

// detect and map
export { toHuggingFace, detectSource, parseConvFeatureLayers, framesFor } from './mappings/index.js';
export type { Conversion, ConversionOptions, SourceKind, MappedTensor, DroppedTensor, TokenizerFiles, Detection, ConvLayerSpec } from './mappings/index.js';

// write
export { writeSafetensors } from './writers/safetensors.js';
export { writeShardedSafetensors } from './writers/safetensors-sharded.js';
export { writeHuggingFaceFolder, type ConversionReport, type OutputDType, type WriteFolderOptions } from './writers/folder.js';
export { buildOnnx, type BuildOnnxOptions, type OnnxFileInfo, type OnnxVariant, ONNX_VARIANTS, VARIANT_FILES, VARIANT_SPECS, type VariantSpec } from './writers/onnx/index.js';
export { convert, loadSource, type ConvertOptions, type ConvertResult } from './convert.js';

// verify
export { verify, formatVerifyReport, referenceForward, type VerifyOptions, type VerifyReport } from './verify/index.js';
