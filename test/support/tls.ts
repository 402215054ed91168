/**
 * Certificates for TLS tests, made with openssl at test time in a temp dir:
 * a private CA, one server certificate (for 127.0.0.1 and localhost, or only
 * for the hostnames asked for, so a test proves those names are verified),
 * and a client certificate for mutual TLS. Nothing is installed or trusted
 * system-wide: clients get the CA in their tls options.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ConnectionOptions } from "node:tls";
import { requireBinary, tempDir } from "./processes.js";

export interface TlsFiles {
  /** Paths redis-server and redis-sentinel are given. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM contents, for clients. */
  readonly ca: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** The names the server certificate is valid for (subjectAltName). */
  readonly names: readonly string[];
  remove(): void;
}

export interface CertificateOptions {
  /** DNS names the server certificate is issued for; without it, 127.0.0.1 and localhost. */
  hostnames?: string[];
}

function openssl(args: string[], cwd: string): void {
  const run = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`openssl ${args[0]} failed: ${run.stderr || run.error?.message}`);
}

/** A private CA, a server certificate and a client certificate, valid for two days. */
export function makeCertificates(options: CertificateOptions = {}): TlsFiles {
  requireBinary("openssl");
  const dir = tempDir("tls");
  const cwd = dir.path;
  const names = options.hostnames ?? ["127.0.0.1", "localhost"];
  const san = names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
  writeFileSync(
    join(cwd, "ext.cnf"),
    [
      "[server]", `subjectAltName=${san}`, "basicConstraints=CA:FALSE", "extendedKeyUsage=serverAuth,clientAuth",
      "[client]", "basicConstraints=CA:FALSE", "extendedKeyUsage=clientAuth", "",
    ].join("\n"),
  );
  const rsa = ["-newkey", "rsa:2048", "-nodes"];
  openssl(["req", "-x509", ...rsa, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=shardis test CA"], cwd);
  for (const [name, ext] of [["server", "server"], ["client", "client"]] as const) {
    openssl(["req", ...rsa, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=shardis test ${name}`], cwd);
    openssl(
      ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", "ext.cnf", "-extensions", ext],
      cwd,
    );
  }
  const read = (file: string) => readFileSync(join(cwd, file), "utf8");
  return {
    caFile: join(cwd, "ca.crt"),
    certFile: join(cwd, "server.crt"),
    keyFile: join(cwd, "server.key"),
    ca: read("ca.crt"),
    clientCert: read("client.crt"),
    clientKey: read("client.key"),
    names,
    remove: () => dir.remove(),
  };
}

/** redis-server (or redis-sentinel) arguments for TLS only (`--port 0`); `mutual`: clients must show a certificate. */
export function tlsServerArgs(files: TlsFiles, mutual = false): string[] {
  return [
    "--tls-cert-file", files.certFile, "--tls-key-file", files.keyFile, "--tls-ca-cert-file", files.caFile,
    "--tls-auth-clients", mutual ? "yes" : "no",
    // Replicas (and sentinels) reach their masters over TLS too; the server's certificate doubles as their client one.
    "--tls-replication", "yes",
  ];
}

/** What a test client gives tls.connect(): the private CA, verification on, and the client certificate for mutual TLS. */
export function clientTls(files: TlsFiles, extra: ConnectionOptions = {}): ConnectionOptions {
  return { ca: files.ca, cert: files.clientCert, key: files.clientKey, rejectUnauthorized: true, ...extra };
}
