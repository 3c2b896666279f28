import { type GlobalShim, stateMaps } from './shims.js';
import { PyObject, type PyValue } from './values.js';

/**
 * omegaconf classes. A pickled omegaconf DictConfig/ListConfig is a tree of containers whose `_content`
 * holds value nodes (`AnyNode(_val=...)`), `_metadata` objects and `_parent` back-references (cycles). We keep only
 * the content: DictConfig → Map, ListConfig → array, value node → its `_val`. `_parent` and `_metadata` are ignored,
 * so the cycles never reach the result.
 */

const NODE_PREFIX = 'omegaconf.nodes.';
const NODE_CLASSES = [
  'ValueNode', 'AnyNode', 'StringNode', 'IntegerNode', 'FloatNode', 'BooleanNode', 'EnumNode', 'PathNode', 'BytesNode',
  'InterpolationResultNode', 'UnionNode',
];

/** A value node's `_val`; containers (already built, children BUILD before parents) pass through. */
function unwrapNode(value: PyValue): PyValue {
  if (value instanceof PyObject && value.className.startsWith(NODE_PREFIX)) {
    for (const attrs of stateMaps(value.state ?? null)) if (attrs.has('_val')) return attrs.get('_val')!;
    return null;
  }
  return value;
}

function contentOf(state: PyValue): PyValue | undefined {
  for (const attrs of stateMaps(state)) if (attrs.has('_content')) return attrs.get('_content');
  return undefined;
}

export const DICT_CONFIG: GlobalShim = {
  create: () => new Map(),
  build(target, state, ctx) {
    const content = contentOf(state);
    if (!(target instanceof Map) || !(content instanceof Map)) return; // None / "???" / interpolation: stays empty
    ctx.allocate(content.size);
    for (const [k, v] of content) target.set(k, unwrapNode(v));
  },
};

export const LIST_CONFIG: GlobalShim = {
  create: () => [],
  build(target, state, ctx) {
    const content = contentOf(state);
    if (!Array.isArray(target) || !Array.isArray(content)) return;
    ctx.allocate(content.length);
    for (const v of content as PyValue[]) (target as PyValue[]).push(unwrapNode(v));
  },
};

/** omegaconf value nodes: inert records whose `_val` the enclosing container unwraps. */
export const OMEGACONF_NODE_NAMES: readonly string[] = NODE_CLASSES.map((name) => NODE_PREFIX + name);
