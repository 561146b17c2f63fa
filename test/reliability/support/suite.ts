import { afterAll, beforeAll } from 'vitest';
import type { OpenedStore, StoreTarget } from '../../support/stores.js';

/** Opens `target` before the suite's tests and closes it after them; the getter fails if it never opened. */
export function openForSuite(target: StoreTarget): () => OpenedStore {
  let opened: OpenedStore | undefined;
  beforeAll(async () => {
    opened = await target.open();
  });
  afterAll(async () => {
    await opened?.close();
  });
  return () => {
    if (opened === undefined) throw new Error(`the ${target.name} store did not open`);
    return opened;
  };
}
