/**
 * The README's main command: the walkthrough on the embedded default store, a SQLite file. Each run
 * starts a fresh file, so the walkthrough's customer is new every time.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sqliteStore } from '@tally/store-sqlite';
import { walkthrough } from './walkthrough.js';

const filename = resolve(process.env.TALLY_DB ?? join('.tally', 'walkthrough.db'));
mkdirSync(resolve(filename, '..'), { recursive: true });
for (const suffix of ['', '-wal', '-shm']) rmSync(filename + suffix, { force: true });

await walkthrough(sqliteStore({ filename }));
console.log(`ledger stored in ${filename} (SQLite)`);
