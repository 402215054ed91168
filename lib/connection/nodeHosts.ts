/**
 * How a NodeClient's recovery (retries, redirects) and role check reach the
 * node's context: the callbacks they are built with, kept apart so that
 * NodeClient.ts stays about the queue, the write and the deadlines.
 */
import type { ShardisCommand } from "../commands/command.js";
import type { Entry } from "./entry.js";
import type { NodeClient } from "./NodeClient.js";
import type { RecoveryHost } from "./recovery.js";
import type { RoleCheckHost } from "./roleCheck.js";

export function recoveryHost(node: NodeClient, requeue: (entries: Entry[]) => void): RecoveryHost {
  const { redirect, clusterRedirect } = node.context;
  return {
    node: node.id,
    isClosing: () => node.closing,
    retry: node.context.retry,
    requeue,
    redirect: redirect && ((entry, error) => redirect(node, entry, error)),
    clusterRedirect: clusterRedirect && ((entry, kind, address, slot) => clusterRedirect(node, entry, kind, address, slot)),
    retried: () => node.context.observer.retried(),
  };
}

export interface RoleCheckParts {
  /** Writes a command at once, ahead of what is held. */
  readonly send: (cmd: ShardisCommand) => void;
  readonly confirmed: () => void;
  /** The node has another role than the layout gives it (`first` until it matches again). */
  readonly mismatch: (error: Error, first: boolean) => void;
}

export function roleCheckHost(node: NodeClient, parts: RoleCheckParts): RoleCheckHost {
  const context = node.context;
  return {
    expected: () => context.role,
    send: parts.send,
    confirmed: parts.confirmed,
    promoted: (actual) => context.onRoleMismatch?.(node, actual),
    mismatched: (actual, first) => {
      parts.mismatch(new Error(`the node is a ${actual}, not the ${context.role} it was sent as`), first);
      context.onRoleMismatch?.(node, actual);
    },
    refused: (error) => context.refused?.(node, "roleCheck", error),
  };
}
