/**
 * The soak's own connections to the servers (default user, never through a
 * fault proxy): one per address, failing fast while the node is down or
 * stopped (no offline queue, short timeouts), so health checks and fault
 * steps never hang on the node they are faulting.
 */
import { Redis } from "ioredis";

const clients = new Map<string, Redis>();

function split(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

export function admin(address: string): Redis {
  let client = clients.get(address);
  if (!client) {
    client = new Redis({
      ...split(address),
      commandTimeout: 2000,
      connectTimeout: 1000,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => 200,
    });
    client.on("error", () => undefined); // a faulted node's connection errors are expected
    clients.set(address, client);
  }
  return client;
}

/** One command, or undefined when the node does not answer it in time (down, stopped, refusing). */
export async function ask(address: string, ...args: Array<string | number>): Promise<unknown> {
  try {
    return await admin(address).call(String(args[0]), ...args.slice(1).map(String));
  } catch {
    return undefined;
  }
}

/** One command's reply, or the error it failed with (to say why a fault step was refused). */
export async function askOrError(address: string, ...args: string[]): Promise<unknown> {
  try {
    return await admin(address).call(args[0]!, ...args.slice(1));
  } catch (error) {
    return error;
  }
}

/** A command on a connection of its own, for one that blocks the server (DEBUG SLEEP). */
export async function askAlone(address: string, timeoutMs: number, ...args: string[]): Promise<unknown> {
  const client = new Redis({ ...split(address), commandTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => undefined);
  try {
    return await client.call(args[0]!, ...args.slice(1));
  } catch (error) {
    return error;
  } finally {
    client.disconnect();
  }
}

export function closeAdmins(): void {
  for (const client of clients.values()) client.disconnect();
  clients.clear();
}

/** ROLE, parsed: a master with its replicas' addresses, or a replica with its master and link state. */
export type Role =
  | { readonly role: "master"; readonly replicas: string[] }
  | { readonly role: "replica"; readonly master: string; readonly state: string };

export async function roleOf(address: string): Promise<Role | undefined> {
  const reply = (await ask(address, "ROLE")) as unknown[] | undefined;
  if (!Array.isArray(reply)) return undefined;
  if (reply[0] === "master") return { role: "master", replicas: ((reply[2] ?? []) as string[][]).map((r) => `${r[0]}:${r[1]}`) };
  if (reply[0] === "slave") return { role: "replica", master: `${reply[1]}:${reply[2]}`, state: String(reply[3]) };
  return undefined;
}
