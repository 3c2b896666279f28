/** What `inspect` says a file offers the issue-12 outputs (src/outputs.ts): layers, a head, padding, profiles; or a quantizer. */
import type { HfModel } from './model.js';
import { PROFILES, type ProfileName } from './profiles.js';
import type { KMeansQuantizer } from './readers/kmeans.js';

export type FileOffers =
  | {
      what: 'model';
      /** `--output-layer` takes 1..layers */
      layers: number;
      hidden: number;
      /** the projection head `--final-proj` applies, if the model carries one */
      projection: { name: string; out: number } | null;
      /** zero samples the graphs pad on each side (bshall units()) */
      inputPadding: number;
      /** profiles whose layer and head this model has (a 12-layer ContentVec with final_proj fits all four ContentVec ones) */
      profiles: ProfileName[];
    }
  | { what: 'kmeans-quantizer'; format: string; estimator: string | null; clusters: number; dim: number };

export function offersOf(model: HfModel): FileOffers {
  const layers = model.config.num_hidden_layers;
  const head = model.projection ?? null;
  const profiles = Object.values(PROFILES)
    .filter((p) => (p.layer === undefined || p.layer <= layers) && (!p.projection || head !== null))
    .filter((p) => (p.name === 'so-vits-hubertsoft') === (head?.name === 'proj'))
    .map((p) => p.name);
  return {
    what: 'model',
    layers,
    hidden: model.config.hidden_size,
    projection: head ? { name: head.name, out: head.weight.shape[0]! } : null,
    inputPadding: model.inputPadding ?? 0,
    profiles,
  };
}

export function quantizerOffers(q: KMeansQuantizer): FileOffers {
  return { what: 'kmeans-quantizer', format: q.format, estimator: q.estimator, clusters: q.clusters, dim: q.dim };
}
