/**
 * Faults on connections, servers untouched: CLIENT KILL of one client
 * process's connections on one node (told apart by their connection name),
 * and a fault proxy in front of a node (plain topology) that delays, drops,
 * resets or swallows traffic for a while.
 */
import type { FaultMode } from "../../support/faultProxy.js";
import { ask } from "../admin.js";
import { liveTargets, scopeOf } from "./targets.js";
import type { FaultMaker, FaultPlan } from "./types.js";

export const clientKill: FaultMaker = async ({ topology, random, workers }) => {
  const target = random.pick(await liveTargets(topology));
  if (!target) return undefined;
  const worker = random.pick(workers);
  let killed = 0;
  const plan: FaultPlan = {
    kind: "CLIENT KILL",
    target: target.address,
    detail: `client w${worker}'s connections to the ${target.role}`,
    held: false,
    notes: [],
    ...scopeOf(target),
    async inject() {
      const list = String((await ask(target.address, "CLIENT", "LIST")) ?? "");
      const ids = list.split("\n").filter((line) => line.includes(` name=chaos-w${worker} `)).map((line) => /\bid=(\d+)/.exec(line)?.[1]);
      for (const id of ids) if (id && (await ask(target.address, "CLIENT", "KILL", "ID", id)) === 1) killed++;
      plan.notes.push(`${killed} killed`);
    },
    async heal() {},
  };
  return plan;
};

const MODES: FaultMode[] = ["delay", "drop", "reset", "blackhole"];

export const proxy: FaultMaker = async ({ topology, random }) => {
  const proxied = topology.nodes.filter((n) => n.proxy);
  if (!proxied.length) return undefined;
  const node = random.pick(proxied);
  const mode = random.pick(MODES);
  const delayMs = random.int(50, 1500);
  return {
    kind: `proxy ${mode}`,
    target: node.server.address,
    detail: `proxy ${node.proxy!.address} of ${node.shard}'s ${node === topology.nodes.find((n) => n.shard === node.shard) ? "master" : "replica"}${mode === "delay" ? `, ${delayMs} ms` : ""}`,
    held: true,
    notes: [],
    shard: node.shard!,
    inject: async () => node.proxy!.set(mode, { delayMs }),
    heal: async () => node.proxy!.set("pass"),
  };
};
