/**
 * What a sentinel may send the client to. Addresses it reports are first
 * rewritten by the natMap (NAT, containers), then checked against the
 * allow-list: a compromised or misconfigured sentinel must not be able to
 * redirect traffic anywhere. A hostname it reports stays the address's TLS
 * servername, also when natMap sends the client to an IP.
 */
import { isIP } from "node:net";
import { formatAddress, parseAddress } from "../config/address.js";
import { allows } from "../config/allowedAddresses.js";
import type { Address, NatMap } from "../config/types.js";

export type Admission = { ok: true; address: Address } | { ok: false; reason: string };

export class AddressPolicy {
  constructor(
    private readonly natMap: NatMap | undefined,
    private readonly allowed: readonly string[] | undefined,
  ) {}

  admit(reported: Address): Admission {
    const key = formatAddress(reported);
    let mapped = key;
    if (typeof this.natMap === "function") {
      try {
        mapped = String(this.natMap(key));
      } catch (error) {
        return { ok: false, reason: `natMap threw for ${key}: ${(error as Error).message}` };
      }
    } else if (this.natMap && Object.hasOwn(this.natMap, key)) {
      mapped = this.natMap[key]!;
    }
    const parsed = parseAddress(mapped);
    if (!parsed.ok) return { ok: false, reason: `natMap gave ${JSON.stringify(mapped)} for ${key}: ${parsed.problem}` };
    if (this.allowed && !this.allows(parsed.address)) {
      return { ok: false, reason: `${formatAddress(parsed.address)} is not in allowedAddresses` };
    }
    const servername = isIP(reported.host) ? undefined : reported.host;
    return { ok: true, address: servername ? Object.freeze({ ...parsed.address, servername }) : parsed.address };
  }

  private allows(address: Address): boolean {
    return this.allowed!.some((pattern) => allows(pattern, address));
  }
}
