import { setTimeout as sleep } from 'node:timers/promises';
import { type EventStore, SINGLE_PARTITION, type StoredEvent } from '@tally/core';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  chooseCitus,
  citusPool,
  citusStore,
  citusTarget,
  freshCitusSchema,
  itOnCitus,
  TEST_SHARDS,
} from '../support/citus.js';
import { describeEventStoreContract } from './event-store-contract.js';
import { appendWithRetry, event } from './helpers.js';
import { completenessProblems, readEveryPartition } from './partitions.js';

/**
 * The Postgres store distributed on Citus (`distributed: 'citus'`): the whole EventStore contract,
 * with the global order in its per-partition form, and what only a cluster has: routing, a worker
 * slow to commit, a shard moved while appends run. Opt-in by TALLY_CITUS_URL (test/support/citus.ts).
 */
const choice = chooseCitus();

if (choice.kind === 'cluster') {
  describeEventStoreContract(citusTarget(choice.url));
} else {
  describe('postgres on Citus: EventStore contract', () => {
    it.skip(`every contract test (NOT RUN: ${choice.reason})`, () => {});
  });
}

/** Opens a distributed store in a fresh schema, runs `fn`, drops the schema. */
async function withStore(
  url: string,
  fn: (store: EventStore, schema: string) => Promise<void>,
): Promise<void> {
  const schema = freshCitusSchema();
  const store = citusStore(url, schema);
  try {
    await store.partitions!();
    await fn(store, schema);
  } finally {
    await store.close();
    await citusPool(url).query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
}

type Sql = (text: string, params?: readonly unknown[]) => Promise<Record<string, unknown>[]>;
const on =
  (url: string): Sql =>
  async (text, params = []) =>
    (await citusPool(url).query(text, [...params])).rows;

/** The shard of `streamId`, and the URL of the worker holding it. */
async function shardOf(
  url: string,
  schema: string,
  streamId: string,
): Promise<{ shard: string; worker: string }> {
  const [row] = await on(url)(
    `SELECT s.shardid::text AS shard, p.nodename AS host, p.nodeport AS port
       FROM (SELECT get_shard_id_for_distribution_column('"${schema}".events', $1::text) AS shardid) s
       JOIN pg_dist_shard_placement p USING (shardid)`,
    [streamId],
  );
  const worker = new URL(url);
  worker.hostname = String(row!.host);
  worker.port = String(row!.port);
  return { shard: String(row!.shard), worker: worker.toString() };
}

/** A stream id, other than `streamId`, in the same shard. */
async function neighbourOf(url: string, schema: string, streamId: string, prefix: string): Promise<string> {
  const [row] = await on(url)(
    `SELECT $2::text || i AS stream FROM generate_series(0, 10000) i
      WHERE get_shard_id_for_distribution_column('"${schema}".events', $2::text || i)
          = get_shard_id_for_distribution_column('"${schema}".events', $1::text)
      LIMIT 1`,
    [streamId, prefix],
  );
  return String(row!.stream);
}

describe('postgres on Citus: specifics', () => {
  itOnCitus('has one partition per shard, and readAll names one', async (url) => {
    await withStore(url, async (store) => {
      const partitions = await store.partitions!();
      expect(partitions).toHaveLength(TEST_SHARDS);
      expect(new Set(partitions).size).toBe(TEST_SHARDS);
      await expect(store.readAll()).rejects.toBeInstanceOf(TypeError);
      await expect(store.readAll({ partition: SINGLE_PARTITION })).rejects.toBeInstanceOf(TypeError);
    });
  });

  itOnCitus(
    'runs every append and stream read on one worker: router plans, the append delegated',
    async (url) => {
      await withStore(url, async (_store, schema) => {
        const sql = on(url);
        const plan = async (text: string, params: readonly unknown[]) =>
          (await sql(`EXPLAIN (COSTS OFF) ${text}`, params))
            .map((row) => String(row['QUERY PLAN']))
            .join('\n');
        const append = await plan(
          `SELECT "${schema}".append($1::text, 0, ARRAY['a'], ARRAY['t'], ARRAY[1], ARRAY['2025-01-01T00:00:00.000Z'],
                                  ARRAY['{}'], ARRAY['{}'], ARRAY[NULL]::text[])`,
          ['s-1'],
        );
        const read = await plan(`SELECT * FROM "${schema}".events WHERE stream_id = $1 ORDER BY version`, [
          's-1',
        ]);
        const partition = await plan(`SELECT * FROM "${schema}".read_partition($1::text, 0, 10)`, [
          'partition-0',
        ]);
        for (const text of [append, read, partition]) {
          expect(text).toContain('Task Count: 1');
          expect(text).not.toMatch(/pull to coordinator|repartition|Task Count: [02-9]/i);
        }
      });
    },
  );

  itOnCitus('classifies a unique violation on a worker as on one server', async (url) => {
    await withStore(url, async (store) => {
      await store.append('s-1', [event('a', 'k-1')], { expectedVersion: 0 });
      // Writers that all read version 1 race on the shard's unique (stream_id, version).
      const racing = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => store.append('s-1', [event(`r${i}`)], { expectedVersion: 1 })),
      );
      expect(racing.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of racing) {
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ name: 'ConcurrencyConflictError' });
      }
      const keys = await Promise.allSettled(
        Array.from({ length: 4 }, () => appendWithRetry(store, 's-1', [event('again', 'k-1')])),
      );
      for (const r of keys) {
        expect(r.status === 'rejected' && r.reason).toMatchObject({
          name: 'DuplicateIdempotencyKeyError',
          idempotencyKey: 'k-1',
        });
      }
    });
  });

  itOnCitus(
    'a reader never skips the events of a worker slow to commit',
    async (url) => {
      await withStore(url, async (store, schema) => {
        const slowStream = 'slow';
        const fastStream = await neighbourOf(url, schema, slowStream, 'fast-');
        const { shard, worker } = await shardOf(url, schema, slowStream);
        const direct = new pg.Client({ connectionString: worker });
        const gate = new pg.Client({ connectionString: worker });
        await direct.connect();
        await gate.connect();
        const lock = 7_000_000 + Math.floor(Math.random() * 1_000_000);
        const table = `"${schema}".events_${shard}`;
        try {
          // A test-only trigger on the shard itself (on its worker) parks appends to 'slow' on a lock.
          // Only on this worker's shard: kept from Citus' propagation, which refuses DDL on a worker.
          await direct.query(`
            SET citus.enable_ddl_propagation = off;
            CREATE FUNCTION "${schema}".park() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_advisory_xact_lock(${lock}); RETURN NEW; END $$;
            CREATE TRIGGER park BEFORE INSERT ON ${table}
              FOR EACH ROW WHEN (NEW.stream_id = '${slowStream}') EXECUTE FUNCTION "${schema}".park();`);
          const before = await neighbourOf(url, schema, slowStream, 'before-');
          await store.append(before, [event('first')], { expectedVersion: 0 });
          const mine = await partitionHolding(url, schema, await store.partitions!(), slowStream);
          const seen = await store.readAll({ partition: mine });
          expect(seen.map((e) => e.id)).toEqual(['first']);
          const start = seen.at(-1)!.position;

          await gate.query('SELECT pg_advisory_lock($1)', [lock]);
          const slow = store.append(slowStream, [event('late')], { expectedVersion: 0 });
          await waitFor(async () => {
            const { rows } = await gate.query(
              `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1`,
              [lock],
            );
            return rows[0].n === 1;
          });
          // 'slow' holds its transaction id and position and waits; 'fast', same shard, commits first.
          await store.append(fastStream, [event('early')], { expectedVersion: 0 });
          expect((await store.readStream(fastStream)).map((e) => e.id)).toEqual(['early']);
          expect(await store.readAll({ partition: mine, after: start })).toEqual([]);

          await gate.query('SELECT pg_advisory_unlock($1)', [lock]);
          await slow;
          const rest = await store.readAll({ partition: mine, after: start });
          expect(rest.map((e) => e.id)).toEqual(['late', 'early']);
        } finally {
          await gate.end();
          await direct.query(`DROP TRIGGER IF EXISTS park ON ${table}`).catch(() => undefined);
          await direct.end();
        }
      });
    },
    60_000,
  );

  itOnCitus(
    'a shard moved to another worker while appends run: nothing skipped, nothing doubled, order kept',
    async (url) => {
      await withStore(url, async (store, schema) => {
        const sql = on(url);
        const streams = Array.from({ length: 8 }, (_, i) => `mv-${i}`);
        const { shard, worker } = await shardOf(url, schema, streams[0]!);
        const from = new URL(worker);
        const [target] = await sql(
          `SELECT nodename AS host, nodeport AS port FROM pg_dist_node
            WHERE shouldhaveshards AND isactive AND noderole = 'primary' AND NOT (nodename = $1 AND nodeport = $2)
            ORDER BY nodeport LIMIT 1`,
          [from.hostname, Number(from.port)],
        );
        expect(target, 'the cluster needs a second worker').toBeDefined();
        // Spend transaction ids on the source worker so that its positions run ahead of the target's:
        // without the placement's base, the moved shard's next positions would land below its last.
        const source = new pg.Client({ connectionString: worker });
        await source.connect();
        try {
          for (let i = 0; i < 300; i++) await source.query('SELECT pg_current_xact_id()');
        } finally {
          await source.end();
        }

        const acknowledged: string[] = [];
        let writing = true;
        const write = async (w: number) => {
          for (let n = 0; writing || n < 10; n++) {
            const id = `w${w}-${n}`;
            await appendWithRetry(store, streams[(w + n) % streams.length]!, [event(id)]);
            acknowledged.push(id);
          }
        };
        const partitions = await store.partitions!();
        const seen: StoredEvent[][] = partitions.map(() => []);
        const catchUp = async () => {
          let read = 0;
          for (const [p, partition] of partitions.entries()) {
            const page = await store.readAll({
              partition,
              after: seen[p]!.at(-1)?.position ?? 0n,
              limit: 20,
            });
            seen[p]!.push(...page);
            read += page.length;
          }
          return read;
        };
        const reading = (async () => {
          while (writing) {
            await catchUp();
            await sleep(2);
          }
        })();
        const writers = Array.from({ length: 4 }, (_, w) => write(w));
        await sleep(300);
        await sql(`SELECT citus_move_shard_placement($1::bigint, $2, $3, $4, $5)`, [
          shard,
          from.hostname,
          Number(from.port),
          target!.host,
          target!.port,
        ]);
        const moved = await shardOf(url, schema, streams[0]!);
        expect(moved.worker).not.toBe(worker);
        await sleep(300);
        writing = false;
        await Promise.all(writers);
        await reading;
        const deadline = Date.now() + 10_000;
        while (seen.flat().length < acknowledged.length && Date.now() < deadline) {
          if ((await catchUp()) === 0) await sleep(10);
        }

        // Within each partition, positions increase and the streams' own order holds.
        expect(completenessProblems(seen, acknowledged)).toEqual([]);
        expect(seen).toEqual(await readEveryPartition(store));
        for (const streamId of streams) {
          const stream = await store.readStream(streamId);
          expect(stream.map((e) => e.version)).toEqual(stream.map((_, i) => i + 1));
        }
        console.info(
          `shard ${shard} moved from ${from.port} to ${target!.port} during ${acknowledged.length} appends`,
        );
      });
    },
    120_000,
  );
});

/** The partition whose key hashes into the shard of `streamId`. */
async function partitionHolding(
  url: string,
  schema: string,
  partitions: readonly string[],
  streamId: string,
): Promise<string> {
  const [row] = await on(url)(
    `SELECT key FROM unnest($1::text[]) AS key
      WHERE get_shard_id_for_distribution_column('"${schema}".events', key)
          = get_shard_id_for_distribution_column('"${schema}".events', $2::text)`,
    [partitions, streamId],
  );
  if (row === undefined) throw new Error(`no partition holds ${streamId}`);
  return String(row.key);
}

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await sleep(10);
  }
}
