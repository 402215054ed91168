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
import { IN_BLOCK, INTERNAL, type NodeClient } from "../connection/NodeClient.js";
import { internalCommand } from "../commands/command.js";
import { commandSpec, keyIndexes } from "../routing/commandSpec.js";

/** ASK 3999 127.0.0.1:6381 */
const ASK = /^ASK \d+ (\S+)$/;
/** Sent by the block itself around its commands. */
const FRAME = new Set(["multi", "exec"]);

export class MigratingBlock {
  /** The importing node the next run goes to (with ASKING), after a run whose every keyed command was answered ASK. */
  private importing: NodeClient | undefined;
  /** The current run's keyed commands, and the ASK replies among them (by address). */
  private keyed = 0;
  private asked = 0;
  private readonly askedTo = new Set<string>();

  constructor(
    /** The node an ASK reply names ("host:port" as reported), as the client reaches it. */
    private readonly nodeNamed: (reported: string) => Promise<NodeClient>,
    /** Re-reads the slot map. */
    private readonly refresh: () => Promise<void>,
  ) {}

  /** The node the next run goes to: the importing node after an ASK, else `master` (resolved by the caller). */
  node(master: () => NodeClient | Promise<NodeClient>): NodeClient | Promise<NodeClient> {
    const importing = this.importing;
    this.keyed = 0;
    this.asked = 0;
    this.askedTo.clear();
    if (importing) return this.watched(importing, true);
    const placed = master();
    return placed instanceof Promise ? placed.then((node) => this.watched(node, false)) : this.watched(placed, false);
  }

  /** The block was refused as a whole (relocated, not run): decides where the next run goes. */
  async relocated(): Promise<void> {
    const [address] = this.askedTo;
    this.importing = undefined;
    if (this.keyed > 0 && this.asked === this.keyed && this.askedTo.size === 1) {
      this.importing = await this.nodeNamed(address!).catch(() => undefined);
      if (this.importing) return;
    }
    await this.refresh();
  }

  /** The node as the block sees it: every reply of a keyed command is watched for ASK; `asking` puts ASKING before MULTI. */
  private watched(node: NodeClient, asking: boolean): NodeClient {
    const send = (cmd: ShardisCommand, timeoutMs: number, flags?: number): Promise<unknown> => {
      // Queued in the same turn, back to back: nothing can come between ASKING and MULTI on the connection.
      if (asking && cmd.name === "multi") node.send(internalCommand("asking"), timeoutMs, IN_BLOCK | INTERNAL).catch(() => undefined);
      const reply = node.send(cmd, timeoutMs, flags);
      if (!FRAME.has(cmd.name) && hasKeys(cmd)) {
        this.keyed++;
        reply.catch((error: unknown) => {
          const ask = error instanceof Error ? ASK.exec(error.message) : null;
          if (!ask) return;
          this.asked++;
          this.askedTo.add(ask[1]!);
        });
      }
      return reply;
    };
    // Everything but send() is the node's own, called on the node itself.
    return new Proxy(node, {
      get: (target, property) => {
        if (property === "send") return send;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
}

function hasKeys(cmd: ShardisCommand): boolean {
  try {
    return keyIndexes(commandSpec(cmd.name), cmd.args as Array<string | Buffer>).length > 0;
  } catch {
    return true;
  }
}
