import { describe, expect, it } from "vitest";
import { AuthenticationError } from "../../lib/errors.js";
import { Reauthenticator } from "../../lib/connection/reauth.js";
import type { NodeClient } from "../../lib/connection/NodeClient.js";

/** A connection as the re-authenticator sees it: ready or not, lent or not, and what the node answers to AUTH. */
function node(id: string, answer: (args: unknown[]) => Promise<unknown>, state: { ready?: boolean; lent?: boolean } = {}) {
  const sent: unknown[][] = [];
  const n = {
    id,
    shard: "s0",
    ready: state.ready ?? true,
    lent: state.lent ?? false,
    closing: false,
    send: (cmd: { name: string; args: unknown[] }) => (sent.push([cmd.name, ...cmd.args]), answer(cmd.args)),
  };
  return { node: n as unknown as NodeClient, sent };
}

describe("Reauthenticator", () => {
  it("asks the provider once per round and sends AUTH on every ready connection that is not lent out", async () => {
    let calls = 0;
    const failures: Error[] = [];
    const reauth = new Reauthenticator(60_000, () => (calls++, { username: "app", password: "p2" }), 1000, { failed: (_n, e) => failures.push(e) });
    const ok = () => Promise.resolve("OK");
    const [a, b, lent, down] = [node("h:1", ok), node("h:1", ok), node("h:2", ok, { lent: true }), node("h:3", ok, { ready: false })];
    for (const n of [a, b, lent, down]) reauth.add(n.node);
    await reauth.round();
    expect(calls).toBe(1);
    expect([a.sent, b.sent]).toEqual([[["auth", "app", "p2"]], [["auth", "app", "p2"]]]);
    expect([lent.sent, down.sent]).toEqual([[], []]);
    reauth.delete(a.node);
    await reauth.round();
    expect(a.sent).toHaveLength(1);
    expect(failures).toEqual([]);
    reauth.stop();
  });

  it("reports a refusal as an AuthenticationError naming node and user, and other failures not at all", async () => {
    const failures: Array<[string, Error]> = [];
    const reauth = new Reauthenticator(60_000, () => ({ password: "secret-p" }), 1000, { failed: (n, e) => failures.push([n.id, e]) });
    const refused = node("h:1", () => Promise.reject(Object.assign(new Error("WRONGPASS invalid username-password pair or user is disabled."), { command: { name: "auth", args: ["secret-p"] } })));
    const gone = node("h:2", () => Promise.reject(new Error("Connection is closed.")));
    reauth.add(refused.node);
    reauth.add(gone.node);
    await reauth.round();
    expect(failures).toHaveLength(1);
    const [where, error] = failures[0]!;
    expect(where).toBe("h:1");
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as AuthenticationError).user).toBe("default");
    expect(JSON.stringify(error) + error.stack).not.toContain("secret-p");
  });

  it("reports a provider that fails once per node, not once per connection", async () => {
    const failures: string[] = [];
    const reauth = new Reauthenticator(60_000, () => Promise.reject(new Error("token service down")), 1000, { failed: (n, e) => failures.push(`${n.id} ${e.message}`) });
    for (const id of ["h:1", "h:1", "h:2"]) reauth.add(node(id, () => Promise.resolve("OK")).node);
    await reauth.round();
    expect(failures).toEqual(["h:1 the credentials provider failed: token service down", "h:2 the credentials provider failed: token service down"]);
  });
});
