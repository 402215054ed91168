/**
 * The persistent store behind the cache: a products table in SQLite
 * (better-sqlite3, a file, seeded with 100k rows on first start) or, when
 * DATABASE_URL is set, in PostgreSQL (pg). Counts its reads, so the demo can
 * show how many requests reached the database.
 */
import Database from "better-sqlite3";
import pg from "pg";

export interface Product {
  id: number;
  name: string;
  priceCents: number;
  stock: number;
}

export interface Store {
  readonly kind: "sqlite" | "postgres";
  /** Queries run so far. */
  readonly reads: number;
  product(id: number): Promise<Product | undefined>;
  products(ids: number[]): Promise<Map<number, Product>>;
  close(): Promise<void>;
}

export const ROWS = 100_000;

const row = (id: number): Product => ({ id, name: `product ${id}`, priceCents: 100 + ((id * 7919) % 100_000), stock: (id * 31) % 500 });

/** SQLite at `path` (created and seeded if new), or PostgreSQL at `databaseUrl` when given. */
export async function openStore(options: { databaseUrl?: string; sqlitePath: string }): Promise<Store> {
  return options.databaseUrl ? openPostgres(options.databaseUrl) : openSqlite(options.sqlitePath);
}

function openSqlite(path: string): Store {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.exec("CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price_cents INTEGER NOT NULL, stock INTEGER NOT NULL)");
  if ((db.prepare("SELECT count(*) AS n FROM products").get() as { n: number }).n < ROWS) {
    const insert = db.prepare("INSERT OR REPLACE INTO products (id, name, price_cents, stock) VALUES (?, ?, ?, ?)");
    db.transaction(() => {
      for (let id = 1; id <= ROWS; id++) {
        const p = row(id);
        insert.run(p.id, p.name, p.priceCents, p.stock);
      }
    })();
  }
  const one = db.prepare("SELECT id, name, price_cents AS priceCents, stock FROM products WHERE id = ?");
  let reads = 0;
  return {
    kind: "sqlite",
    get reads() {
      return reads;
    },
    async product(id) {
      reads++;
      return one.get(id) as Product | undefined;
    },
    async products(ids) {
      reads++;
      const found = db.prepare(`SELECT id, name, price_cents AS priceCents, stock FROM products WHERE id IN (${ids.map(() => "?").join(",")})`).all(...ids) as Product[];
      return new Map(found.map((p) => [p.id, p]));
    },
    async close() {
      db.close();
    },
  };
}

async function openPostgres(url: string): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle client's connection lost (the database restarted or stopped) is emitted on the pool: without a listener
  // it would end the app server. The next query opens a new connection, or fails and is answered as an error.
  pool.on("error", (error) => console.error(`database: ${error.message}`));
  await pool.query("CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price_cents INTEGER NOT NULL, stock INTEGER NOT NULL)");
  const { rows } = await pool.query<{ n: string }>("SELECT count(*) AS n FROM products");
  if (Number(rows[0]!.n) < ROWS) {
    // One statement: generate_series seeds 100k rows in well under a second.
    await pool.query(
      `INSERT INTO products (id, name, price_cents, stock)
       SELECT id, 'product ' || id, 100 + (id::bigint * 7919) % 100000, (id * 31) % 500 FROM generate_series(1, ${ROWS}) AS id
       ON CONFLICT (id) DO NOTHING`,
    );
  }
  let reads = 0;
  const select = "SELECT id, name, price_cents AS \"priceCents\", stock FROM products";
  return {
    kind: "postgres",
    get reads() {
      return reads;
    },
    async product(id) {
      reads++;
      return (await pool.query<Product>(`${select} WHERE id = $1`, [id])).rows[0];
    },
    async products(ids) {
      reads++;
      const found = (await pool.query<Product>(`${select} WHERE id = ANY($1::int[])`, [ids])).rows;
      return new Map(found.map((p) => [p.id, p]));
    },
    async close() {
      await pool.end();
    },
  };
}
