import { Module } from './module';

/**
 * PyTorch's module printout (`print(model)`), so a notebook shows the same tree as the Python
 * walkthrough. A module describes its own arguments with `extraRepr()` (torch's extra_repr);
 * runs of identical list entries fold into `(0-31): 32 x LlamaDecoderLayer(...)` as torch does.
 */
export interface HasExtraRepr {
  extraRepr(): string;
}

function extra(m: Module): string {
  const e = (m as unknown as Partial<HasExtraRepr>).extraRepr;
  if (typeof e === 'function') return e.call(m);
  const l = m as unknown as { inFeatures?: number; outFeatures?: number; bias?: unknown };
  if (typeof l.inFeatures === 'number' && typeof l.outFeatures === 'number') {
    return `in_features=${l.inFeatures}, out_features=${l.outFeatures}, bias=${l.bias ? 'True' : 'False'}`;
  }
  return '';
}

function indent(text: string): string {
  return text.split('\n').join('\n  ');
}

/** Python's repr of a float (`1e-06`, `0.5`), for extraRepr strings. */
export function pyFloat(x: number): string {
  if (x !== 0 && Math.abs(x) < 1e-4) return x.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return Number.isInteger(x) ? `${x}.0` : String(x);
}

export function moduleRepr(m: Module): string {
  const lines: string[] = [];
  // group `layers.0`, `layers.1`, … under one ModuleList entry
  const groups = new Map<string, Array<[string, Module]>>();
  for (const [name, child] of m.namedChildren()) {
    const dot = name.indexOf('.');
    const key = dot < 0 ? name : name.slice(0, dot);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push([dot < 0 ? '' : name.slice(dot + 1), child]);
  }
  for (const [key, entries] of groups) {
    if (entries.length === 1 && entries[0][0] === '') {
      lines.push(`(${key}): ${moduleRepr(entries[0][1])}`);
      continue;
    }
    const items: string[] = [];
    let i = 0;
    while (i < entries.length) {
      const text = moduleRepr(entries[i][1]);
      let j = i + 1;
      while (j < entries.length && moduleRepr(entries[j][1]) === text) j++;
      items.push(j - i > 1 ? `(${entries[i][0]}-${entries[j - 1][0]}): ${j - i} x ${text}` : `(${entries[i][0]}): ${text}`);
      i = j;
    }
    lines.push(`(${key}): ModuleList(\n  ${items.map(indent).join('\n  ')}\n)`);
  }
  const head = `${m.constructor.name}(${extra(m)}`;
  if (lines.length === 0) return `${head})`;
  return `${head}\n  ${lines.map(indent).join('\n  ')}\n)`;
}
