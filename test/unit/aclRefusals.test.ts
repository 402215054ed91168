/**
 * AclRefusals: an ACL's NOPERM to a command of shardis's own is reported
 * once per node and feature, as a NoPermissionError naming the command and
 * the ACL rule that restores it; other failures are left to the caller.
 */
import { ReplyError } from "ioredis";
import { describe, expect, it } from "vitest";
import { AclRefusals, isNoPermission } from "../../lib/connection/aclRefusals.js";
import { NoPermissionError, ShardisError } from "../../lib/errors.js";

const NOPERM = () => new ReplyError("NOPERM this user has no permissions to run the 'info' command");
const A = { shard: "s0", id: "10.0.0.1:6379" };
const B = { shard: "s0", id: "10.0.0.2:6379" };

describe("AclRefusals", () => {
  it("reports a NOPERM once per node and feature, naming the command and the fix for the user", () => {
    const reported: NoPermissionError[] = [];
    const refusals = new AclRefusals("app", (error) => reported.push(error));
    for (let i = 0; i < 5; i++) expect(refusals.refused(A, "replicaHealth", NOPERM())).toBe(true);
    refusals.refused(B, "replicaHealth", NOPERM());
    refusals.refused(A, "serverStats", NOPERM());
    expect(reported.map((e) => `${e.node} ${e.command}`)).toEqual([`${A.id} INFO`, `${B.id} INFO`, `${A.id} INFO`]);
    const [first] = reported;
    expect(first).toBeInstanceOf(ShardisError);
    expect(first!.code).toBe("ERR_SHARDIS_NO_PERMISSION");
    expect(first!.fix).toBe("ACL SETUSER app +info");
    expect(first!.message).toMatch(/^shard s0 \(10\.0\.0\.1:6379\): the ACL user may not run INFO \(NOPERM\): .+\. Fix: ACL SETUSER app \+info$/);
    expect(refusals.isRefused(A, "replicaHealth")).toBe(true);
    expect(refusals.isRefused(A, "nearCache")).toBe(false);
  });

  it("names subcommands as Redis does (CLIENT TRACKING, +client|tracking)", () => {
    const refusals = new AclRefusals("default", () => undefined);
    const error = refusals.error(A, "nearCache");
    expect(error.command).toBe("CLIENT TRACKING");
    expect(error.fix).toBe("ACL SETUSER default +client|tracking");
  });

  it("reports again once the command ran in between (the ACL changed twice)", () => {
    const reported: NoPermissionError[] = [];
    const refusals = new AclRefusals("app", (error) => reported.push(error));
    refusals.refused(A, "serverStats", NOPERM());
    refusals.permitted(A, "serverStats");
    expect(refusals.isRefused(A, "serverStats")).toBe(false);
    refusals.refused(A, "serverStats", NOPERM());
    expect(reported).toHaveLength(2);
  });

  it("leaves anything but a NOPERM reply to the caller", () => {
    const reported: NoPermissionError[] = [];
    const refusals = new AclRefusals("app", (error) => reported.push(error));
    expect(refusals.refused(A, "roleCheck", new ReplyError("ERR unknown command 'ROLE'"))).toBe(false);
    expect(refusals.refused(A, "roleCheck", new Error("NOPERM but not a reply"))).toBe(false);
    expect(refusals.refused(A, "roleCheck", undefined)).toBe(false);
    expect(reported).toEqual([]);
    expect(isNoPermission(NOPERM())).toBe(true);
  });
});
