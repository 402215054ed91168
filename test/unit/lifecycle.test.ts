/**
 * The client's events as ioredis emits them while no master is reachable:
 * "close" then "reconnecting" (with the delay) for every failed attempt of a
 * master, none for a connection that is not a master, none while ready.
 */
import { describe, expect, it } from "vitest";
import type { NodeClient } from "../../lib/connection/NodeClient.js";
import { Lifecycle } from "../../lib/client/lifecycle.js";

type Master = { ready: boolean; status: string };

function setup(count = 2) {
  const masters: Master[] = Array.from({ length: count }, () => ({ ready: true, status: "ready" }));
  const events: string[] = [];
  const lifecycle = new Lifecycle(
    {
      masters: () => masters as unknown as NodeClient[],
      emit: (event) => void events.push(event),
      reconnecting: (delayMs) => void events.push(`reconnecting(${delayMs})`),
    },
    false,
  );
  lifecycle.update();
  const node = (i: number) => masters[i] as unknown as NodeClient;
  const lose = (i: number) => Object.assign(masters[i]!, { ready: false, status: "reconnecting" });
  return { masters, events, lifecycle, node, lose };
}

const tick = () => new Promise<void>((resolve) => process.nextTick(resolve));

describe("Lifecycle", () => {
  it("says close, then reconnecting with the lost connection's delay, then both again for each failed attempt", async () => {
    const { events, lifecycle, node, lose } = setup();
    lose(0);
    lifecycle.update();
    lifecycle.attempt(node(0), 50); // while another master is up: not the client's
    lose(1);
    lifecycle.update();
    lifecycle.attempt(node(1), 50); // the last master's loss: its delay
    await tick();
    lifecycle.attempt(node(0), 100);
    lifecycle.attempt(node(1), 150);
    expect(events).toEqual(["connect", "ready", "close", "reconnecting(50)", "close", "reconnecting(100)", "close", "reconnecting(150)"]);
  });

  it("ignores attempts of connections that are not masters, and says reconnecting with 0 when no connection will", async () => {
    const { events, lifecycle, lose } = setup(1);
    lose(0);
    lifecycle.update();
    lifecycle.attempt({} as NodeClient, 50);
    await tick();
    expect(events).toEqual(["connect", "ready", "close", "reconnecting(0)"]);
  });

  it("says close and reconnecting for a master's failed attempts before the first ready, then connect and ready", async () => {
    const masters: Master[] = [{ ready: true, status: "ready" }, { ready: false, status: "connecting" }];
    const events: string[] = [];
    const host = {
      masters: () => masters as unknown as NodeClient[],
      emit: (event: string) => void events.push(event),
      reconnecting: (delayMs: number) => void events.push(`reconnecting(${delayMs})`),
    };
    const lifecycle = new Lifecycle(host, false);
    lifecycle.update();
    lifecycle.attempt(masters[1] as unknown as NodeClient, 50);
    expect(lifecycle.status).toBe("reconnecting");
    lifecycle.attempt(masters[1] as unknown as NodeClient, 100);
    Object.assign(masters[1]!, { ready: true, status: "ready" });
    lifecycle.update();
    expect(events).toEqual(["close", "reconnecting(50)", "close", "reconnecting(100)", "connect", "ready"]);
    expect(lifecycle.status).toBe("ready");
  });

  it("says nothing for attempts once ready again, or once closed", async () => {
    const { events, lifecycle, node, lose, masters } = setup(1);
    lose(0);
    lifecycle.update();
    lifecycle.attempt(node(0), 50);
    Object.assign(masters[0]!, { ready: true, status: "ready" });
    lifecycle.update();
    lifecycle.attempt(node(0), 50);
    lifecycle.ending();
    lifecycle.attempt(node(0), 50);
    await tick();
    expect(events).toEqual(["connect", "ready", "close", "reconnecting(50)", "connect", "ready", "close"]);
  });
});
