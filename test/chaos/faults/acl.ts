/**
 * The clients' ACL user loses a permission on every server for a while
 * (a command, a category, or the whole user switched off), then gets it
 * back: as an operator's mistake and its correction would look.
 */
import { ask } from "../admin.js";
import { USER } from "../topology.js";
import type { FaultMaker, FaultPlan } from "./types.js";

/** [taken, given back]. */
const CHANGES: Array<[string, string]> = [
  ["-incr", "+incr"], ["-set", "+set"], ["-get", "+get"], ["-mget", "+mget"], ["-del", "+del"],
  ["-evalsha", "+evalsha"], ["-@scripting", "+@scripting"], ["-multi", "+multi"], ["-exec", "+exec"],
  ["-watch", "+watch"], ["-wait", "+wait"], ["-role", "+role"], ["-info", "+info"], ["off", "on"],
];
const CLUSTER_ONLY: Array<[string, string]> = [["-cluster", "+cluster"]];

export const acl: FaultMaker = async ({ topology, random }) => {
  const [take, give] = random.pick(topology.kind === "cluster" ? [...CHANGES, ...CLUSTER_ONLY] : CHANGES);
  const all = topology.nodes.map((n) => n.server.address);
  const apply = async (rule: string, notes: string[]) => {
    const refused = [];
    for (const address of all) if ((await ask(address, "ACL", "SETUSER", USER, rule)) !== "OK") refused.push(address);
    if (refused.length) notes.push(`${rule} not applied on ${refused.join(", ")}`);
  };
  const plan: FaultPlan = {
    kind: "ACL",
    target: USER,
    detail: `${take} on every server`,
    held: true,
    notes: [],
    inject: () => apply(take, plan.notes),
    heal: () => apply(give, plan.notes),
  };
  return plan;
};
