import { DICT_CONFIG, LIST_CONFIG, OMEGACONF_NODE_NAMES } from './omegaconf-globals.js';
import {
  BYTEARRAY_SHIM, BYTES_SHIM, CODECS_ENCODE_SHIM, DEFAULTDICT_SHIM, DICT_OF_ATTRIBUTES, DICT_SHIM, LIST_SHIM, NEWOBJ_EX_SHIM,
  NEWOBJ_SHIM, NUMPY_DTYPE_SHIM, NUMPY_RECONSTRUCT_SHIM, NUMPY_SCALAR_SHIM, OBJECT_SHIM, RECONSTRUCTOR_SHIM, SET_SHIM, TUPLE_SHIM,
  inertCall,
} from './python-globals.js';
import { type GlobalKind, type GlobalShim, INERT_CLASS } from './shims.js';
import { TORCH_SHIMS, TORCH_STORAGE_AND_DTYPE_NAMES } from './torch-globals.js';

/**
 * THE ALLOW-LIST: the only pickle globals hubert-convert accepts. Every other global is refused before any value is
 * built (UnsafeInputError E_PICKLE_UNSAFE_GLOBAL, exit 3), unless the user names it with `--allow-global`, which
 * keeps it as an inert record.
 *
 * Each entry says what the global becomes here (`becomes`) and why accepting it is safe (`safe`: what PyTorch's
 * own unpickler does with it under `torch.load(weights_only=False)`, so a file we accept is not a file that runs
 * code there). Names are whole dotted paths, matched after Python 2 names are mapped (names.ts), however a
 * protocol-4 pickle splits them between module and attribute. `kind` says how the global may be used (shims.ts
 * GlobalKind): calling a `value`, or constructing (NEWOBJ) anything but a `class`, is refused. Entries whose shims
 * take callables or classes as arguments check them (torch-globals.ts, python-globals.ts).
 *
 * Where the names come from: torch.save's own output (rebuilds, storages, dtypes, Size, device, layouts), Python's
 * pickler for builtin values (containers, `_codecs.encode` for protocol-2 bytes, copyreg helpers of protocols 0–2),
 * numpy's `__reduce__` of scalars, dtypes and arrays (fairseq meters and task states hold numpy scalars), fairseq's
 * checkpoint_utils/trainer (`argparse.Namespace` args, `Dictionary` task states, omegaconf `DictConfig` cfg whose
 * metadata names fairseq config dataclasses), and s3prl's runners (DistilHuBERT/SUPERB pickle the learning-rate
 * schedule objects of s3prl/optimizers.py inside their optimizer state).
 */
export interface AllowEntry {
  readonly names: readonly string[];
  readonly kind: GlobalKind;
  readonly becomes: string;
  readonly safe: string;
  readonly shim: GlobalShim;
  /** Allowed as inert: foreign objects kept as records and never interpreted (reported as handling `inert`). */
  readonly inert?: true;
}

const FAIRSEQ_CONFIGS = [
  'fairseq.dataclass.configs.FairseqDataclass', 'fairseq.dataclass.configs.FairseqConfig', 'fairseq.dataclass.configs.CommonConfig',
  'fairseq.dataclass.configs.CommonEvalConfig', 'fairseq.dataclass.configs.DistributedTrainingConfig', 'fairseq.dataclass.configs.DatasetConfig',
  'fairseq.dataclass.configs.OptimizationConfig', 'fairseq.dataclass.configs.CheckpointConfig', 'fairseq.dataclass.configs.FairseqBMUFConfig',
  'fairseq.dataclass.configs.GenerationConfig', 'fairseq.dataclass.configs.EvalLMConfig', 'fairseq.dataclass.configs.InteractiveConfig',
  'fairseq.dataclass.configs.EMAConfig', 'fairseq.models.hubert.hubert.HubertConfig', 'fairseq.models.hubert.hubert_asr.HubertAsrConfig',
  'fairseq.models.hubert.hubert_asr.HubertCtcConfig', 'fairseq.models.hubert.hubert_asr.HubertSeq2SeqConfig',
  'fairseq.tasks.hubert_pretraining.HubertPretrainingConfig', 'fairseq.criterions.hubert_criterion.HubertCriterionConfig',
  'fairseq.criterions.ctc.CtcCriterionConfig', 'fairseq.tasks.audio_finetuning.AudioFinetuningConfig',
  'fairseq.tasks.audio_pretraining.AudioPretrainingConfig', 'fairseq.optim.adam.FairseqAdamConfig',
  'fairseq.optim.lr_scheduler.polynomial_decay_schedule.PolynomialDecayLRScheduleConfig',
  'fairseq.optim.lr_scheduler.tri_stage_lr_scheduler.TriStageLRScheduleConfig', 'fairseq.models.wav2vec.wav2vec2.Wav2Vec2Config',
  'fairseq.models.wav2vec.wav2vec2_asr.Wav2Vec2AsrConfig', 'fairseq.models.wav2vec.wav2vec2_asr.Wav2Vec2CtcConfig',
];

/** s3prl/optimizers.py schedules, as pickled from the top-level `optimizers` module (s3prl's scripts run from its folder) or from the package. */
const S3PRL_SCHEDULES = ['ConstantLR', 'WarmupCosineSchedule', 'WarmupCosineWithHardRestartsSchedule', 'WarmupCosineWithWarmupRestartsSchedule', 'WarmupConstantSchedule', 'WarmupLinearSchedule']
  .flatMap((name) => [`optimizers.${name}`, `s3prl.optimizers.${name}`]);

const DATA_ONLY_BUILD = 'BUILD only fills the instance __dict__ (the class defines no __setstate__)';

export const ALLOW_LIST: readonly AllowEntry[] = [
  // ---- torch.save's own vocabulary
  {
    names: TORCH_STORAGE_AND_DTYPE_NAMES, kind: 'value', shim: TORCH_SHIMS.storageOrDType,
    becomes: 'an element-type marker (storage classes in persistent ids, torch.<dtype> objects)',
    safe: 'torch classes and dtype constants, only looked up: persistent_load reads the dtype, nothing is called',
  },
  {
    names: ['torch._utils._rebuild_tensor', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor_v3'], kind: 'function',
    shim: TORCH_SHIMS.rebuildV2, // replaced per name below
    becomes: 'a lazy tensor over its storage (view checked against the storage)',
    safe: 'makes a tensor view of a storage; backward hooks must be an empty OrderedDict, metadata a dict',
  },
  {
    names: ['torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state'], kind: 'function', shim: TORCH_SHIMS.rebuildParameter,
    becomes: 'the tensor it wraps', safe: 'wraps a tensor as a Parameter; data must be a tensor, hooks empty, state a dict',
  },
  {
    names: ['torch._tensor._rebuild_from_type_v2'], kind: 'function', shim: TORCH_SHIMS.rebuildFromType,
    becomes: 'the tensor its rebuild function makes',
    safe: 'calls its first argument, so that must be one of the torch._utils rebuilds above and the class torch.Tensor or Parameter; state a dict',
  },
  {
    names: ['torch.nn.parameter.Parameter'], kind: 'class', shim: TORCH_SHIMS.parameter,
    becomes: 'the tensor it wraps', safe: 'Parameter(data) only wraps a tensor; data must be a tensor',
  },
  { names: ['torch.Tensor'], kind: 'value', shim: TORCH_SHIMS.tensorClass, becomes: 'a class marker', safe: 'only passed to _rebuild_from_type_v2 as the tensor class; calling it (an allocation) is refused' },
  { names: ['torch.Size'], kind: 'class', shim: TORCH_SHIMS.size, becomes: 'a tuple of ints', safe: 'a tuple subclass built from a tuple already in the pickle' },
  { names: ['torch.device'], kind: 'class', shim: TORCH_SHIMS.device, becomes: "a string such as 'cuda:0'", safe: 'parses a device name; touches no device' },
  { names: ['torch.serialization._get_layout'], kind: 'function', shim: TORCH_SHIMS.getLayout, becomes: "the layout name ('torch.strided')", safe: 'a dictionary lookup of torch layout constants' },

  // ---- Python's pickler for builtin values
  {
    names: ['collections.OrderedDict', 'collections.Counter', 'builtins.dict'], kind: 'class', shim: DICT_SHIM,
    becomes: 'a Map (BUILD attributes such as state_dict _metadata are kept off the items)', safe: 'builds a dict from pairs already in the pickle',
  },
  { names: ['collections.defaultdict'], kind: 'class', shim: DEFAULTDICT_SHIM, becomes: 'a Map', safe: 'the default factory must be an allowed class; it is only called on a missing key, after loading' },
  { names: ['collections.deque', 'builtins.list'], kind: 'class', shim: LIST_SHIM, becomes: 'an array', safe: 'copies an iterable already in the pickle' },
  { names: ['builtins.tuple'], kind: 'class', shim: TUPLE_SHIM, becomes: 'a frozen array', safe: 'copies an iterable already in the pickle' },
  { names: ['builtins.set', 'builtins.frozenset'], kind: 'class', shim: SET_SHIM, becomes: 'a Set', safe: 'copies an iterable already in the pickle' },
  { names: ['builtins.object'], kind: 'class', shim: OBJECT_SHIM, becomes: 'an inert record', safe: 'object() holds nothing; the base copyreg._reconstructor names' },
  {
    names: ['builtins.complex', 'builtins.slice', 'builtins.range'], kind: 'class', shim: INERT_CLASS,
    becomes: 'an inert record of its arguments', safe: 'value types; range is lazy, nothing is allocated',
  },
  {
    names: ['builtins.int', 'builtins.float', 'builtins.str', 'builtins.bool'], kind: 'class', shim: INERT_CLASS,
    becomes: 'a class marker (a call stays an inert record)', safe: 'conversions between plain values',
  },
  { names: ['builtins.bytes'], kind: 'class', shim: BYTES_SHIM, becomes: 'bytes (protocol 2 writes b"" as bytes())', safe: 'makes bytes; any other call stays an inert record' },
  { names: ['builtins.bytearray'], kind: 'class', shim: BYTEARRAY_SHIM, becomes: 'bytes', safe: 'copies bytes already in the pickle; bytearray(n) stays an inert record' },
  {
    names: ['_codecs.encode'], kind: 'function', shim: CODECS_ENCODE_SHIM, becomes: 'bytes (how protocol 2 stores bytes)',
    safe: 'encodes text as latin1/utf-8; any other codec name is refused (PyTorch would look it up by name)',
  },
  {
    names: ['copyreg._reconstructor'], kind: 'function', shim: RECONSTRUCTOR_SHIM, becomes: 'an instance of its class',
    safe: 'object.__new__(cls) (protocols 0/1); the class must be on this list (or --allow-global), the base a builtin type',
  },
  {
    names: ['copyreg.__newobj__', 'copyreg.__newobj_ex__'], kind: 'function', shim: NEWOBJ_SHIM,
    becomes: 'an instance of its class', safe: 'cls.__new__(cls, ...) like NEWOBJ; the class is checked like NEWOBJ\'s',
  },
  { names: ['argparse.Namespace'], kind: 'class', shim: DICT_OF_ATTRIBUTES, becomes: 'a Map of its fields', safe: `fairseq's args; ${DATA_ONLY_BUILD}` },
  { names: ['typing.Any'], kind: 'value', shim: INERT_CLASS, becomes: 'a marker', safe: 'a constant (omegaconf metadata)' },

  // ---- numpy (fairseq meters and task states hold numpy scalars)
  {
    names: ['numpy.core.multiarray.scalar', 'numpy._core.multiarray.scalar'], kind: 'function', shim: NUMPY_SCALAR_SHIM,
    becomes: 'a number (plain dtypes) or an inert record', safe: 'makes a scalar from raw bytes; its first argument must be a numpy.dtype',
  },
  { names: ['numpy.dtype'], kind: 'class', shim: NUMPY_DTYPE_SHIM, becomes: 'an inert record', safe: 'parses a dtype string such as "f8"; the argument must be a string' },
  { names: ['numpy.ndarray'], kind: 'value', shim: INERT_CLASS, becomes: 'a class marker', safe: 'only passed to _reconstruct as the array type' },
  {
    names: ['numpy.core.multiarray._reconstruct', 'numpy._core.multiarray._reconstruct'], kind: 'function', shim: NUMPY_RECONSTRUCT_SHIM,
    becomes: 'an inert record (with its BUILD state)', safe: 'makes an empty ndarray that BUILD fills with bytes; the type must be numpy.ndarray',
  },

  // ---- k-means quantizers (fairseq examples/hubert/simple_kmeans/learn_kmeans.py: joblib.dump of a fitted sklearn estimator)
  {
    names: ['sklearn.cluster._kmeans.MiniBatchKMeans', 'sklearn.cluster._kmeans.KMeans'], kind: 'class', shim: INERT_CLASS,
    becomes: 'an inert record of its fitted attributes (readers/kmeans.ts takes cluster_centers_ from it)',
    safe: "NEWOBJ with no arguments, then BUILD of its __dict__: sklearn's BaseEstimator.__setstate__ only compares _sklearn_version and updates __dict__; nothing is fitted or called",
  },
  {
    names: ['joblib.numpy_pickle.NumpyArrayWrapper'], kind: 'class', shim: INERT_CLASS,
    becomes: 'an inert record; a joblib reader (readers/kmeans.ts) replaces it by the raw array bytes that follow its BUILD, read as data',
    safe: "a plain class whose BUILD fills __dict__ (subclass, shape, order, dtype, allow_mmap, numpy_array_alignment_bytes); joblib's unpickler then reads raw bytes with np.frombuffer, except for object arrays, which are nested pickles and which readers/kmeans.ts refuses",
  },

  // ---- fairseq and omegaconf
  { names: ['fairseq.data.dictionary.Dictionary'], kind: 'class', shim: DICT_OF_ATTRIBUTES, becomes: 'a Map of its fields (symbols, count, indices, ...)', safe: DATA_ONLY_BUILD },
  {
    names: FAIRSEQ_CONFIGS, kind: 'class', shim: INERT_CLASS, inert: true,
    becomes: 'a class marker (an instance stays an inert record)',
    safe: `fairseq config dataclasses, named by omegaconf metadata (object_type); ${DATA_ONLY_BUILD}`,
  },
  { names: ['omegaconf.dictconfig.DictConfig'], kind: 'class', shim: DICT_CONFIG, becomes: 'a Map of its content', safe: "omegaconf's __setstate__ restores its fields; no interpolation is resolved while loading" },
  { names: ['omegaconf.listconfig.ListConfig'], kind: 'class', shim: LIST_CONFIG, becomes: 'an array of its content', safe: "omegaconf's __setstate__ restores its fields" },
  {
    names: ['omegaconf.base.Metadata', 'omegaconf.base.ContainerMetadata', 'omegaconf.base.Box', 'omegaconf.base.Container', 'omegaconf.base.Node', ...OMEGACONF_NODE_NAMES],
    kind: 'class', shim: INERT_CLASS, becomes: 'inert records (value nodes are unwrapped by their container)',
    safe: `omegaconf metadata dataclasses and value nodes; ${DATA_ONLY_BUILD} or omegaconf's field-restoring __setstate__`,
  },

  // ---- s3prl
  {
    names: [...S3PRL_SCHEDULES], kind: 'class', shim: INERT_CLASS, inert: true,
    becomes: 'an inert record (allow-listed as inert: kept, never interpreted)',
    safe: `learning-rate schedule objects of s3prl/optimizers.py that DistilHuBERT and SUPERB checkpoints carry in their optimizer state (BertAdam-style param groups keep one as "schedule"); ${DATA_ONLY_BUILD}`,
  },
];

/** Per-name shims where one entry groups globals with different shims. */
const SHIM_OVERRIDES: Record<string, GlobalShim> = {
  'torch._utils._rebuild_tensor': TORCH_SHIMS.rebuildV1,
  'torch._utils._rebuild_tensor_v3': TORCH_SHIMS.rebuildV3,
  'torch._utils._rebuild_parameter_with_state': TORCH_SHIMS.rebuildParameterWithState,
  'copyreg.__newobj_ex__': NEWOBJ_EX_SHIM,
};

export interface AllowedGlobal {
  readonly kind: GlobalKind;
  readonly shim: GlobalShim;
  readonly entry: AllowEntry;
}

/** Full dotted name → how it is used and what it becomes. */
export const ALLOWED: ReadonlyMap<string, AllowedGlobal> = new Map(
  ALLOW_LIST.flatMap((entry) => entry.names.map((name): [string, AllowedGlobal] => [name, { kind: entry.kind, shim: SHIM_OVERRIDES[name] ?? entry.shim, entry }])),
);
