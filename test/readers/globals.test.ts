import { describe, expect, test } from 'vitest';
import { UnsafeInputError, UsageError } from '../../src/errors.js';
import {
  ALLOW_LIST, ALLOWED, type GlobalUse, PyGlobal, PyObject, type PyValue, REGISTRY, type UnpickleOptions, denialReason, globalPolicy, pyAttributes, pyGet,
  toPlainJson, unpickle,
} from '../../src/readers/index.js';
import { pickle } from '../helpers/pickle-builder.js';

function unsafe(bytes: Uint8Array, options: UnpickleOptions = {}): UnsafeInputError {
  try {
    unpickle(bytes, { name: 'evil.pkl', ...options });
  } catch (e) {
    if (e instanceof UnsafeInputError) return e;
    throw e;
  }
  throw new Error('expected an UnsafeInputError');
}

describe('deny rules: known-dangerous names get a sharper message and cannot be allowed by hand', () => {
  const denied: Array<[string, string]> = [
    ['os', 'system'], ['posix', 'system'], ['nt', 'system'], ['subprocess', 'Popen'], ['sys', 'modules'],
    ['builtins', 'eval'], ['builtins', 'exec'], ['builtins', 'compile'], ['builtins', 'getattr'], ['builtins', 'setattr'],
    ['builtins', 'delattr'], ['builtins', '__import__'], ['builtins', 'open'], ['builtins', 'input'], ['builtins', 'breakpoint'],
    ['builtins', 'globals'], ['builtins', 'locals'], ['builtins', 'vars'], ['__builtin__', 'eval'], ['__builtin__', 'execfile'],
    ['importlib', 'import_module'], ['importlib.util', 'spec_from_file_location'], ['runpy', 'run_path'], ['shutil', 'rmtree'],
    ['socket', 'socket'], ['ctypes', 'CDLL'], ['pickle', 'loads'], ['_pickle', 'loads'], ['cPickle', 'loads'], ['dill', 'loads'],
    ['marshal', 'loads'], ['code', 'InteractiveInterpreter'], ['codeop', 'compile_command'], ['types', 'FunctionType'],
    ['types', 'CodeType'], ['functools', 'partial'], ['operator', 'attrgetter'], ['operator', 'methodcaller'],
    ['operator', 'itemgetter'], ['webbrowser', 'open'], ['pty', 'spawn'], ['multiprocessing', 'Process'], ['signal', 'signal'],
    ['platform', 'popen'], ['os.path', 'join'], ['torch', 'load'], ['torch.hub', 'load'], ['numpy', 'load'], ['yaml', 'unsafe_load'],
    ['torch.storage', '_load_from_bytes'], ['torch', 'os.system'], ['fairseq.data.dictionary', 'Dictionary.__init__.__globals__'],
    ['copy_reg', 'add_extension'], ['_codecs', 'decode'], ['mymod', 'execv'], ['mymod', 'spawnlp'],
  ];
  for (const [module, name] of denied) {
    test(`${module}.${name} is refused`, () => {
      const e = unsafe(pickle().proto(2).int(0).pop().global(module, name).done());
      expect(e.code).toBe('E_PICKLE_UNSAFE_GLOBAL');
      expect(e.message).toContain(`evil.pkl at offset 5 (GLOBAL): the pickle references ${module}.${name}, which could run code`);
      expect(e.message).toContain('--allow-global cannot accept it');
      expect(unsafe(pickle().proto(2).int(0).pop().global(module, name).done(), { allowGlobals: [`${module}.${name}`] }).code).toBe('E_PICKLE_UNSAFE_GLOBAL');
    });
  }

  test('STACK_GLOBAL and INST are checked too, with their offsets', () => {
    const viaStack = unsafe(pickle().proto(4).stackGlobal('os', 'system').str('id').tuple1().reduce().done());
    expect(viaStack.message).toMatch(/offset 14 \(STACK_GLOBAL\): the pickle references os\.system/);
    const viaMemo = unsafe(pickle().proto(4).shortStr('os').memoize().shortStr('system').memoize().pop().pop().binget(0).binget(1).raw(0x93).done());
    expect(viaMemo.message).toMatch(/\(STACK_GLOBAL\): the pickle references os\.system/);
    const viaInst = unsafe(pickle().mark().str('id').inst('subprocess', 'check_output').done());
    expect(viaInst.message).toMatch(/offset 8 \(INST\): the pickle references subprocess\.check_output/);
  });

  test('the whole pickle is scanned first: a denied global after a malformed part still reports unsafe', () => {
    // the value part is broken (APPEND on an empty stack) before the global is reached
    const e = unsafe(pickle().proto(2).append().global('os', 'system').done());
    expect(e.code).toBe('E_PICKLE_UNSAFE_GLOBAL');
  });

  test('no registered global matches a deny rule', () => {
    for (const name of REGISTRY.keys()) {
      const dot = name.lastIndexOf('.');
      expect(denialReason(name.slice(0, dot), name.slice(dot + 1))).toBeNull();
    }
  });

  test('harmless names are not denied', () => {
    expect(denialReason('mypkg.models', 'Runner')).toBeNull();
    expect(denialReason('builtins', 'ValueError')).toBeNull();
    expect(denialReason('numpy', 'float64')).toBeNull();
  });
});

describe('allow-list by default, --allow-global, and global accounting', () => {
  test('a global outside the allow-list is refused (strict or not), naming it, its offset and what PyTorch would do; allowGlobals keeps it inert', () => {
    const bytes = pickle().proto(2).global('optimizers', 'Scheduler').emptyTuple().reduce().done();
    for (const strict of [false, true]) {
      const e = unsafe(bytes, { strict });
      expect(e.code).toBe('E_PICKLE_UNSAFE_GLOBAL');
      expect(e.message).toBe(
        'evil.pkl at offset 2 (GLOBAL): the pickle references optimizers.Scheduler, which is not on the allow-list: loading this file with PyTorch (torch.load weights_only=False) would import optimizers and call optimizers.Scheduler(...). Refusing to read it; if you have checked where the file comes from and what optimizers.Scheduler is, pass --allow-global optimizers.Scheduler to keep it as an inert record',
      );
    }
    const globals = new Map<string, GlobalUse>();
    expect((unpickle(bytes, { globals, allowGlobals: ['optimizers.Scheduler'] }) as PyObject).className).toBe('optimizers.Scheduler');
    expect([...globals.values()]).toEqual([{ name: 'optimizers.Scheduler', count: 1, handling: 'user-allowed' }]);
  });

  test('the message says how the pickle uses the global: construct, BUILD on it, or only fetch it', () => {
    expect(unsafe(pickle().proto(2).global('mypkg', 'K').emptyTuple().newobj().done()).message).toContain('would import mypkg and create a mypkg.K object (mypkg.K.__new__)');
    expect(unsafe(pickle().proto(2).global('mypkg', 'K').emptyDict().build().done()).message).toContain('would import mypkg and set attributes on mypkg.K itself (BUILD)');
    expect(unsafe(pickle().proto(2).global('mypkg', 'K').done()).message).toContain('would import mypkg (running its import-time code) and fetch mypkg.K');
    // the use is followed through the memo
    expect(unsafe(pickle().proto(2).global('mypkg', 'f').binput(0).pop().binget(0).emptyTuple().reduce().done()).message).toContain('would import mypkg and call mypkg.f(...)');
  });

  test('the allow-list is one documented table: every entry says what it becomes and why it is safe; names are unique and well formed', () => {
    const seen = new Set<string>();
    for (const entry of ALLOW_LIST) {
      expect(entry.becomes.length, entry.names[0]).toBeGreaterThan(3);
      expect(entry.safe.length, entry.names[0]).toBeGreaterThan(10);
      for (const name of entry.names) {
        expect(seen.has(name), name).toBe(false);
        seen.add(name);
        expect(name).toMatch(/^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$/);
      }
    }
    expect(seen.size).toBe(ALLOWED.size);
    for (const name of ['optimizers.WarmupLinearSchedule', 's3prl.optimizers.WarmupLinearSchedule', 'fairseq.data.dictionary.Dictionary', 'torch._utils._rebuild_tensor_v2', '_codecs.encode']) {
      expect(ALLOWED.has(name), name).toBe(true);
    }
  });

  test('names are decided on the whole dotted path, however protocol 4 splits it between module and attribute', () => {
    // an allowed rebuild spelled ("torch", "_utils._rebuild_tensor_v2") is the same function
    const globals = new Map<string, GlobalUse>();
    expect(unpickle(pickle().proto(4).stackGlobal('collections', 'OrderedDict').emptyTuple().reduce().done(), { globals })).toEqual(new Map());
    unpickle(pickle().proto(4).stackGlobal('torch', '_utils._rebuild_tensor_v2').pop().none().done(), { globals });
    expect([...globals.keys()]).toEqual(['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2']);
    // deny rules see the attribute path too
    const hub = unsafe(pickle().proto(4).stackGlobal('torch', 'hub.download_url_to_file').emptyTuple().reduce().done());
    expect(hub.message).toContain("the pickle references torch.hub.download_url_to_file, which could run code: loading this file with PyTorch (torch.load weights_only=False) would import torch and call torch.hub.download_url_to_file(...) (module 'torch.hub'");
    // an attribute of an allowed class is not allowed
    expect(unsafe(pickle().proto(4).stackGlobal('collections', 'OrderedDict.fromkeys').emptyTuple().reduce().done()).message).toContain('collections.OrderedDict.fromkeys, which is not on the allow-list');
  });

  test('impossible spellings are refused with E_PICKLE_BAD_GLOBAL_NAME (exit 3)', () => {
    for (const [module, name, why] of [['os ', 'system', 'whitespace'], ['torch', '.load', 'empty step'], ['', 'x', 'module is empty'], ['a\u0000b', 'c', 'control characters'], ['numpy', 'x-y', "'x-y' is not a Python identifier"]] as const) {
      const e = unsafe(pickle().proto(4).stackGlobal(module, name).done());
      expect(e.code, JSON.stringify([module, name])).toBe('E_PICKLE_BAD_GLOBAL_NAME');
      expect(e.exitCode).toBe(3);
      expect(e.message).toContain(why);
    }
  });

  test('--allow-global names are checked: a module and a name, no impossible spelling', () => {
    expect([...globalPolicy(['optimizers.MyScheduler', '__builtin__.long']).userAllowed]).toEqual(['optimizers.MyScheduler', 'builtins.int']);
    for (const bad of ['MyScheduler', 'a..b', 'a. b', '.a.b', 'a.b.', 'a.b\n', '']) {
      expect(() => globalPolicy([bad]), JSON.stringify(bad)).toThrow(UsageError);
      try {
        globalPolicy([bad]);
      } catch (e) {
        expect((e as UsageError).code).toBe('E_USAGE_ALLOW_GLOBAL');
      }
    }
  });

  test('allow-listed torch/state_dict globals; counts are per call', () => {
    const globals = new Map<string, GlobalUse>();
    const bytes = pickle().proto(2).mark().orderedDict().global('collections', 'OrderedDict').binput(0).emptyTuple().reduce()
      .binget(0).emptyTuple().reduce().global('typing', 'Any').tuple().done();
    unpickle(bytes, { strict: true, globals });
    expect([...globals.values()]).toEqual([
      { name: 'collections.OrderedDict', count: 3, handling: 'shim' },
      { name: 'typing.Any', count: 1, handling: 'shim' },
    ]);
  });
});

describe('shims', () => {
  test('OrderedDict with _metadata BUILD: metadata kept off the items, as an attribute', () => {
    const v = unpickle(
      pickle().proto(2).orderedDict().mark().str('w').int(1).str('b').int(2).setitems()
        .emptyDict().str('_metadata').orderedDict().str('').emptyDict().str('version').int(1).setitem().setitem().setitem().build().done(),
    ) as Map<string, PyValue>;
    expect([...v.keys()]).toEqual(['w', 'b']);
    expect(Object.keys(v)).toEqual([]);
    expect(pyGet(pyAttributes(v)?.get('_metadata') ?? null, '', 'version')).toBe(1);
  });

  test('argparse.Namespace (NEWOBJ + BUILD, and protocol-0 copy_reg._reconstructor) → Map of its fields', () => {
    const p2 = unpickle(pickle().proto(2).global('argparse', 'Namespace').emptyTuple().newobj().emptyDict().str('lr').binfloat(0.5).setitem().str('task').str('hubert_pretraining').setitem().build().done());
    expect(p2).toEqual(new Map<string, PyValue>([['lr', 0.5], ['task', 'hubert_pretraining']]));
    const p0 = unpickle(pickle().global('copy_reg', '_reconstructor').mark().global('argparse', 'Namespace').global('__builtin__', 'object').none().tuple().reduce()
      .mark().str('seed').int(7).dict().build().done());
    expect(p0).toEqual(new Map([['seed', 7]]));
  });

  test('fairseq Dictionary → Map of its fields', () => {
    const v = unpickle(pickle().proto(2).global('fairseq.data.dictionary', 'Dictionary').emptyTuple().newobj()
      .emptyDict().str('symbols').mark().str('<s>').str('<pad>').list().setitem().str('nspecial').int(4).setitem().build().done());
    expect(pyGet(v, 'symbols')).toEqual(['<s>', '<pad>']);
    expect(pyGet(v, 'nspecial')).toBe(4);
  });

  test('copyreg.__newobj__ / __newobj_ex__ construct like NEWOBJ', () => {
    expect(unpickle(pickle().global('copyreg', '__newobj__').mark().global('argparse', 'Namespace').tuple().reduce().done())).toEqual(new Map());
    const ex = unpickle(pickle().global('copyreg', '__newobj_ex__').mark().global('mypkg', 'K').mark().int(1).tuple().emptyDict().tuple().reduce().done(), { allowGlobals: ['mypkg.K'] }) as PyObject;
    expect([ex.className, ex.args]).toEqual(['mypkg.K', [1]]);
  });

  test('omegaconf DictConfig/ListConfig with nodes, metadata and _parent cycles → plain Map/array', () => {
    // {'model': {'layers': 3, 'name': 'hubert', 'dims': [1.5, None]}} as omegaconf pickles it (simplified metadata)
    const b = pickle().proto(2);
    const meta = (): void => {
      b.global('omegaconf.base', 'ContainerMetadata').emptyTuple().newobj().emptyDict().str('key_type').global('typing', 'Any').setitem()
        .str('object_type').global('__builtin__', 'dict').setitem().str('flags').emptyDict().setitem()
        .str('resolver_cache').global('collections', 'defaultdict').global('__builtin__', 'dict').tuple1().reduce().setitem().build();
    };
    const node = (cls: string, put: () => void, parent: number): void => {
      b.global('omegaconf.nodes', cls).emptyTuple().newobj().emptyDict().str('_metadata').global('omegaconf.base', 'Metadata').emptyTuple().newobj().setitem()
        .str('_parent').binget(parent).setitem().str('_val');
      put();
      b.setitem().build();
    };
    b.global('omegaconf.dictconfig', 'DictConfig').emptyTuple().newobj().binput(0).emptyDict().str('_metadata');
    meta();
    b.setitem().str('_parent').none().setitem().str('_content').emptyDict().str('model')
      .global('omegaconf.dictconfig', 'DictConfig').emptyTuple().newobj().binput(1).emptyDict().str('_metadata');
    meta();
    b.setitem().str('_parent').binget(0).setitem().str('_content').emptyDict();
    b.str('layers');
    node('IntegerNode', () => b.int(3), 1);
    b.setitem().str('name');
    node('StringNode', () => b.str('hubert'), 1);
    b.setitem().str('dims').global('omegaconf.listconfig', 'ListConfig').emptyTuple().newobj().binput(2).emptyDict()
      .str('_parent').binget(1).setitem().str('_content').emptyList();
    node('FloatNode', () => b.binfloat(1.5), 2);
    b.append();
    node('AnyNode', () => b.none(), 2);
    b.append().setitem().build().setitem();
    b.setitem().build(); // model
    b.setitem().setitem().build(); // root
    const v = unpickle(b.done(), { strict: true });
    expect(toPlainJson(v)).toEqual({ model: { layers: 3, name: 'hubert', dims: [1.5, null] } });
  });

  test('numpy scalars (both module paths) → numbers; unknown dtypes → inert records', () => {
    const scalar = (module: string, code: string, raw: number[]): Uint8Array =>
      pickle().proto(2).global(module, 'scalar').global('numpy', 'dtype').mark().str(code).bool(false).bool(true).tuple().reduce()
        .mark().int(3).str('<').none().none().none().int(-1).int(-1).int(0).tuple().build()
        .global('_codecs', 'encode').str(String.fromCharCode(...raw)).str('latin1').tuple2().reduce().tuple2().reduce().done();
    const f8 = new Uint8Array(new Float64Array([3.25]).buffer);
    expect(unpickle(scalar('numpy.core.multiarray', 'f8', [...f8]))).toBe(3.25);
    expect(unpickle(scalar('numpy._core.multiarray', 'i8', [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBe(-2);
    expect(unpickle(scalar('numpy.core.multiarray', 'f4', [0, 0, 0xc0, 0x3f]))).toBe(1.5);
    expect(unpickle(scalar('numpy.core.multiarray', 'b1', [1]))).toBe(true);
    const odd = unpickle(scalar('numpy.core.multiarray', 'c16', new Array(16).fill(0))) as PyObject;
    expect(odd.className).toBe('numpy.scalar');
  });

  test('numpy ndarray via _reconstruct stays an inert record with its state', () => {
    const v = unpickle(pickle().proto(2).global('numpy.core.multiarray', '_reconstruct').global('numpy', 'ndarray').int(0).tuple1().shortBytes([0x62]).tuple3().reduce()
      .mark().int(1).int(2).tuple1().tuple().build().done()) as PyObject;
    expect(v.className).toBe('numpy.ndarray');
    expect(v.state).toEqual([1, [2]]);
  });

  test('builtins containers and _codecs.encode', () => {
    const v = unpickle(pickle().proto(2).mark()
      .global('builtins', 'set').emptyList().int(1).append().tuple1().reduce()
      .global('__builtin__', 'frozenset').emptyList().int(2).append().tuple1().reduce()
      .global('builtins', 'bytearray').str('\u00ff\u0001').str('latin-1').tuple2().reduce()
      .global('builtins', 'list').mark().int(1).int(2).tuple().tuple1().reduce()
      .global('builtins', 'tuple').emptyList().int(3).append().tuple1().reduce()
      .global('builtins', 'dict').emptyList().mark().str('a').int(1).tuple().append().tuple1().reduce()
      .global('builtins', 'complex').binfloat(1).binfloat(2).tuple2().reduce()
      .global('builtins', 'bytearray').int(1_000_000_000).tuple1().reduce()
      .global('_codecs', 'encode').str('é').str('utf-8').tuple2().reduce()
      .global('__builtin__', 'long').int(5).tuple1().reduce()
      .tuple().done()) as PyValue[];
    expect(v.slice(0, 6)).toEqual([new Set([1]), new Set([2]), Uint8Array.from([255, 1]), [1, 2], [3], new Map([['a', 1]])]);
    expect(Object.isFrozen(v[4])).toBe(true);
    expect([(v[6] as PyObject).className, (v[6] as PyObject).args]).toEqual(['builtins.complex', [1, 2]]);
    expect((v[7] as PyObject).className).toBe('builtins.bytearray'); // never allocates a gigabyte
    expect(v[8]).toEqual(Uint8Array.from([0xc3, 0xa9]));
    expect((v[9] as PyObject).className).toBe('builtins.int');
  });

  test('torch.Size, torch.device, dtype objects', () => {
    const v = unpickle(pickle().proto(2).mark()
      .global('torch', 'Size').mark().int(2).int(3).tuple().tuple1().reduce()
      .global('torch', 'device').str('cuda').int(0).tuple2().reduce()
      .global('torch', 'device').str('cpu').tuple1().reduce()
      .global('torch', 'bfloat16')
      .tuple().done(), { strict: true }) as PyValue[];
    expect(v.slice(0, 3)).toEqual([[2, 3], 'cuda:0', 'cpu']);
    expect((v[3] as PyGlobal).fullName).toBe('torch.bfloat16');
  });

  test('toPlainJson: bigints, bytes, non-finite floats, cycles, inert records', () => {
    const v = unpickle(pickle().proto(2).emptyList().binput(0).mark().long1(2n ** 70n).shortBytes([1, 2]).binfloat(Infinity).binget(0).global('m', 'X').int(1).tuple1().reduce().appends().done(), { allowGlobals: ['m.X'] });
    expect(toPlainJson(v)).toEqual([String(2n ** 70n), { bytes: 2 }, 'Infinity', '<cycle>', { object: 'm.X', args: [1] }]);
  });
});
