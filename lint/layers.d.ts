// Types of lint/layers.js (plain JavaScript: eslint loads it).
export const LAYERS: Record<string, string[]>;
export const OUTSIDE_SRC: string[];
export const PROCESS_MODULES: string[];
export function layerOrder(layers?: Record<string, string[]>): string[];
