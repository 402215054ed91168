/**
 * A cluster transaction's way through a slot migration. While its slot
 * migrates, the source answers ASK to each queued command whose key has
 * moved, and refuses the block (EXECABORT). The block then runs whole on the
 * importing node, with ASKING right before its MULTI (the flag holds until
 * EXEC), but only when every keyed command of the block was answered ASK, to
 * the same node: a key still on the source would be created anew on the
 * target. Otherwise (MOVED, TRYAGAIN, keys split between the two) it waits
 * for the map to be re-read and runs again where the map says.
 */
import type { ShardisCommand } from "../commands/command.js";
import type { NodeClient } from "../connection/NodeClient.js";
import { clusterRedirectOf } from "../connection/recovery.js";
import type { BlockPlace } from "../pipeline/Transaction.js";
import { commandSpec, keyIndexes } from "../routing/commandSpec.js";


export class MigratingBlock {
  /** The importing node the next run goes to (with ASKING), after a run whose every keyed command was answered ASK. */
  private importing: NodeClient | undefined;

  constructor(
    /** The node an ASK reply names ("host:port" as reported), as the client reaches it. */
    private readonly nodeNamed: (reported: string) => Promise<NodeClient>,
    /** Re-reads the slot map. */
    private readonly refresh: () => Promise<void>,
  ) {}

  /** Where the next run goes: the importing node (ASKING first) after an ASK, else `master`. */
  node(master: () => NodeClient | Promise<NodeClient>): BlockPlace | Promise<BlockPlace> {
    const importing = this.importing;
    if (importing) return { node: importing, asking: true };
    const placed = master();
    return placed instanceof Promise ? placed.then((node) => ({ node, asking: false })) : { node: placed, asking: false };
  }

  /** The block was refused whole (relocated, not run): decides from its queued commands' replies where the next run goes. */
  async relocated(queued: readonly ShardisCommand[], replies: ReadonlyArray<Error | undefined>): Promise<void> {
    this.importing = undefined;
    let keyed = 0;
    let asked = 0;
    const to = new Set<string>();
    queued.forEach((cmd, i) => {
      if (!hasKeys(cmd)) return;
      keyed++;
      const redirect = clusterRedirectOf(replies[i]);
      if (redirect?.kind !== "ASK") return;
      asked++;
      to.add(redirect.address);
    });
    if (keyed > 0 && asked === keyed && to.size === 1) {
      this.importing = await this.nodeNamed([...to][0]!).catch(() => undefined);
      if (this.importing) return;
    }
    await this.refresh();
  }
}

function hasKeys(cmd: ShardisCommand): boolean {
  try {
    return keyIndexes(commandSpec(cmd.name), cmd.args as Array<string | Buffer>).length > 0;
  } catch {
    return true;
  }
}
