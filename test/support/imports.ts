/**
 * The import graph of lib/, read from the source text: which module imports
 * which (static imports, re-exports and dynamic import()), and the folder
 * graph derived from it. Used by the layering test.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative, sep } from "node:path";

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

export interface ModuleImport {
  /** Importing file, relative to the root ("node/NodeClient.ts"). */
  readonly from: string;
  /** Imported file, relative to the root ("errors.ts"). */
  readonly to: string;
}

export function listSources(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(relative(root, path).split(sep).join("/"));
    }
  };
  walk(root);
  return out.sort();
}

/** Every relative import between files under root. Package imports are left out. */
export function moduleImports(root: string): ModuleImport[] {
  const imports: ModuleImport[] = [];
  for (const file of listSources(root)) {
    const text = readFileSync(join(root, file), "utf8");
    for (const match of text.matchAll(IMPORT_RE)) {
      const spec = match[1] ?? match[2];
      if (!spec || !spec.startsWith(".")) continue;
      const target = normalize(join(dirname(file), spec)).split(sep).join("/").replace(/\.js$/, ".ts");
      imports.push({ from: file, to: target });
    }
  }
  return imports;
}

/** A file's unit for layering: its top folder, or the file itself at the root. */
export function unitOf(file: string): string {
  const slash = file.indexOf("/");
  return slash === -1 ? file : file.slice(0, slash);
}

/** Folder-level edges (a unit importing another unit), with one example import each. */
export function unitEdges(imports: readonly ModuleImport[]): Map<string, Map<string, ModuleImport>> {
  const edges = new Map<string, Map<string, ModuleImport>>();
  for (const imp of imports) {
    const a = unitOf(imp.from);
    const b = unitOf(imp.to);
    if (a === b) continue;
    let out = edges.get(a);
    if (!out) edges.set(a, (out = new Map()));
    if (!out.has(b)) out.set(b, imp);
  }
  return edges;
}

/** Strongly connected components with more than one unit: each one is a cycle between folders. */
export function cycles(edges: Map<string, Map<string, ModuleImport>>): string[][] {
  const nodes = new Set<string>([...edges.keys(), ...[...edges.values()].flatMap((m) => [...m.keys()])]);
  let index = 0;
  const stack: string[] = [];
  const on = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const found: string[][] = [];
  const connect = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!idx.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of [...nodes].sort()) if (!idx.has(v)) connect(v);
  return found;
}
