/**
 * Faults on a server process: SIGKILL (restarted once the topology has
 * failed over, if it does), SIGSTOP/SIGCONT, DEBUG SLEEP. A killed server
 * comes back empty (no persistence): as a replica of whoever is master now
 * when there was a failover, otherwise as an empty master, which is a wipe
 * the log records.
 */
import type { Random } from "../../sim/random.js";
import { ask, askAlone } from "../admin.js";
import { clusterSlots, masterOf } from "../health.js";
import type { ChaosNode, ChaosTopology } from "../topology.js";
import { liveTargets, scopeOf, type Target } from "./targets.js";
import type { FaultMaker, FaultPlan } from "./types.js";

const FAILOVER_WAIT_MS = 20_000;

export function pickTarget(targets: Target[], random: Random): Target | undefined {
  const role = random.chance(0.5) ? "master" : "replica";
  const ofRole = targets.filter((t) => t.role === role);
  return ofRole.length ? random.pick(ofRole) : targets.length ? random.pick(targets) : undefined;
}

function describe(target: Target): string {
  return target.shard ? `${target.role} of ${target.shard}` : `${target.role}${target.master ? ` of ${target.master}` : ""}`;
}

/** Data a master's failover may lose: none in the plain topology (no failover), unreplicated writes otherwise. */
function asyncLoss(topology: ChaosTopology, target: Target): "async" | undefined {
  return target.role === "master" && topology.kind !== "plain" ? "async" : undefined;
}

type PlanBody = Omit<FaultPlan, "target" | "notes" | "shard" | "slots">;

/** A plan against a live target; the body object becomes the plan itself, so its heal() can amend it. */
async function planFor(context: Parameters<FaultMaker>[0], make: (target: Target, node: ChaosNode) => PlanBody): Promise<FaultPlan | undefined> {
  const target = pickTarget(await liveTargets(context.topology), context.random);
  const node = target && context.topology.node(target.address);
  if (!target || !node) return undefined;
  return Object.assign(make(target, node), { target: target.address, notes: [] as string[], ...scopeOf(target) });
}

export const kill: FaultMaker = (context) =>
  planFor(context, (target, node) => {
    const plan: PlanBody = {
      kind: `SIGKILL ${target.role}`,
      detail: describe(target),
      held: true,
      loss: target.role === "master" ? (context.topology.kind === "plain" ? "wipe" : "async") : undefined,
      inject: async () => node.server.signal("SIGKILL"),
      heal: async () => {
        const notes = await restartKilled(context.topology, node, target);
        if (notes.wiped) plan.loss = "wipe";
        (plan as FaultPlan).notes.push(...notes.lines);
      },
    };
    return plan;
  });

export const stop: FaultMaker = (context) =>
  planFor(context, (target, node) => ({
    kind: `SIGSTOP ${target.role}`,
    detail: describe(target),
    held: true,
    loss: asyncLoss(context.topology, target),
    inject: async () => node.server.signal("SIGSTOP"),
    heal: async () => node.server.signal("SIGCONT"),
  }));

export const debugSleep: FaultMaker = (context) => {
  const ms = context.random.int(200, 2000);
  let sleeping: Promise<unknown> = Promise.resolve();
  return planFor(context, (target) => ({
    kind: `DEBUG SLEEP ${target.role}`,
    detail: `${describe(target)}, ${ms} ms`,
    held: false,
    loss: asyncLoss(context.topology, target),
    inject: async () => {
      sleeping = askAlone(target.address, ms + 5000, "DEBUG", "SLEEP", String(ms / 1000));
    },
    heal: async () => void (await sleeping),
  }));
};

/**
 * Brings a killed server back. A master is restarted only after its shard
 * failed over (or FAILOVER_WAIT_MS passed): restarted at once, the empty
 * process would be master again and its replica would copy the emptiness.
 */
async function restartKilled(topology: ChaosTopology, node: ChaosNode, target: Target): Promise<{ wiped: boolean; lines: string[] }> {
  const address = node.server.address;
  const lines: string[] = [];
  let failedOver = topology.kind === "plain" || target.role === "replica";
  for (const deadline = Date.now() + FAILOVER_WAIT_MS; !failedOver && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    failedOver = topology.kind === "cluster" ? !(await clusterSlots(topology)).has(address) : !!(await newMaster(topology, node));
  }
  if (target.role === "master" && topology.kind !== "plain") lines.push(failedOver ? "failed over" : `no failover within ${FAILOVER_WAIT_MS} ms`);
  await restart(node, lines);
  let wiped = target.role === "master" && (topology.kind === "plain" || !failedOver);
  if (topology.kind === "sentinel") {
    // Restarted with its first command line: point it at whoever is master now (or make it master again).
    const master = await masterOf(topology, node.shard!);
    if (master && master !== address) await ask(address, "REPLICAOF", ...master.split(":"));
    if (master === address) {
      await ask(address, "REPLICAOF", "NO", "ONE");
      wiped = true;
    }
  }
  if (wiped) lines.push("came back empty as master");
  return { wiped, lines };
}

async function newMaster(topology: ChaosTopology, node: ChaosNode): Promise<string | undefined> {
  const master = await masterOf(topology, node.shard!);
  return master && master !== node.server.address ? master : undefined;
}

async function restart(node: ChaosNode, lines: string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await node.server.restart();
    } catch (error) {
      lines.push(`restart attempt ${attempt} failed: ${(error as Error).message.split("\n")[0]}`);
      if (attempt >= 5) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}
