import { describe, expect, it } from "vitest";
import { isSyncing, lagMs, parseInfo } from "../../lib/replicas/replication.js";

describe("replica readings", () => {
  it("parses INFO sections", () => {
    const info = parseInfo("# Replication\r\nrole:slave\r\nmaster_link_status:up\r\nslave_repl_offset:42\r\n\r\n# Other\r\nx:a:b\r\n");
    expect(info).toEqual({ role: "slave", master_link_status: "up", slave_repl_offset: "42", x: "a:b" });
  });

  it("calls a replica syncing while it receives or loads a full copy", () => {
    expect(isSyncing({ master_sync_in_progress: "1" }, { loading: "0" })).toBe(true);
    expect(isSyncing({ master_sync_in_progress: "0" }, { loading: "1" })).toBe(true);
    expect(isSyncing({ master_sync_in_progress: "0" }, { loading: "0", async_loading: "1" })).toBe(true);
    // A link that is down because the master is unreachable is not a sync: the data is still there.
    expect(isSyncing({ master_sync_in_progress: "0", master_link_status: "down" }, { loading: "0" })).toBe(false);
  });

  it("measures lag as the time since the master first had data the replica lacks", () => {
    const samples = [
      { at: 1000, offset: 100 },
      { at: 1250, offset: 200 },
      { at: 1500, offset: 300 },
    ];
    expect(lagMs(samples, 300, 1600)).toBe(0);
    expect(lagMs(samples, 400, 1600)).toBe(0);
    expect(lagMs(samples, 250, 1600)).toBe(100); // stale since the master reached 300 at 1500
    expect(lagMs(samples, 150, 1600)).toBe(350);
    expect(lagMs(samples, 50, 1600)).toBe(600); // older than the history: at least since its start
    expect(lagMs([], 50, 1600)).toBeUndefined();
    expect(lagMs(samples, -1, 1600)).toBeUndefined();
  });

  it("stops the lag growing while the master is unreachable (no newer samples)", () => {
    const samples = [{ at: 1000, offset: 500 }];
    expect(lagMs(samples, 500, 60_000)).toBe(0);
  });
});
