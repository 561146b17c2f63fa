/**
 * The README's main command: the walkthrough on the embedded default store, a SQLite file, twice:
 * with the catalog defined in code, then with the catalog built through the API and kept in the
 * store. Each run starts fresh files, so the walkthrough's customer is new every time.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sqliteStore } from '@tally/store-sqlite';
import { walkthrough } from './walkthrough.js';

const filename = resolve(process.env.TALLY_DB ?? join('.tally', 'walkthrough.db'));
const stored = filename.replace(/(\.db)?$/, '-catalog.db');
mkdirSync(resolve(filename, '..'), { recursive: true });
for (const file of [filename, stored])
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });

console.log('The catalog defined in code:');
await walkthrough(sqliteStore({ filename }));
console.log(`ledger stored in ${filename} (SQLite)`);
console.log('\nThe catalog built through the API, kept in the store:');
await walkthrough(sqliteStore({ filename: stored }), console.log, 'store');
console.log(`ledger and catalog stored in ${stored} (SQLite)`);
