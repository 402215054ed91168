/**
 * lib/ is layered: each folder imports only folders below it, so no two
 * folders import each other and nothing reaches upward. The order is written
 * down here; an import against it fails this test with the offending line.
 */
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { cycles, listSources, moduleImports, unitEdges, unitOf } from "../support/imports.js";

const LIB = fileURLToPath(new URL("../../lib", import.meta.url));

/** Lowest first. Units on one line are peers and must not import each other. */
const LAYERS: string[][] = [
  ["errors"],
  ["errors.ts", "util"],
  ["sharding", "resilience", "hotkeys", "nearcache"],
  ["config"],
  ["routing", "commands"],
  ["connection"],
  ["topology"],
  ["sentinel", "replicas", "cluster"],
  ["metrics"],
  ["scan", "pipeline", "pubsub", "cache", "migration"],
  ["exec"],
  ["client"],
  // shardis/otel: its own entry point, never imported by the package's main one.
  ["index.ts", "otel"],
];

const layerOf = new Map(LAYERS.flatMap((units, level) => units.map((unit) => [unit, level] as const)));

describe("layering of lib/", () => {
  const imports = moduleImports(LIB);
  const edges = unitEdges(imports);

  it("reads a real import graph", () => {
    // Guards the test itself: an empty or broken parse would pass everything below.
    expect(imports.length).toBeGreaterThan(100);
    expect(edges.get("client")?.has("exec")).toBe(true);
  });

  it("puts every folder and root file in a layer", () => {
    const units = new Set(imports.flatMap((i) => [unitOf(i.from), unitOf(i.to)]));
    expect([...units].filter((unit) => !layerOf.has(unit))).toEqual([]);
  });

  it("has no cycle between folders", () => {
    expect(cycles(edges)).toEqual([]);
  });

  it("imports only downward", () => {
    const upward: string[] = [];
    for (const [from, targets] of edges) {
      for (const [to, example] of targets) {
        if (layerOf.get(from)! <= layerOf.get(to)!) upward.push(`${from} -> ${to} (${example.from} imports ${example.to})`);
      }
    }
    expect(upward).toEqual([]);
  });
});

describe("examples", () => {
  const EXAMPLES = fileURLToPath(new URL("../../examples", import.meta.url));

  it("import only shardis and public packages, so they copy into an app as they are", () => {
    // local.ts (starts servers for them) and the demos (start their own) are programs, not examples to copy.
    const programs = new Set(["local.ts", "demo.ts", "demo-cluster.ts", "demo-grow.ts"]);
    const examples = listSources(EXAMPLES).filter((file) => !file.includes("/") && !programs.has(file));
    expect(examples.length).toBeGreaterThanOrEqual(4);
    const relative = examples.flatMap((file) =>
      [...readFileSync(`${EXAMPLES}/${file}`, "utf8").matchAll(/from\s+["'](\.[^"']*)["']/g)].map((m) => `${file}: ${m[1]}`),
    );
    expect(relative).toEqual([]);
  });
});
