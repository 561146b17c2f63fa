import { memoryTarget, postgresTarget, sqliteTarget } from '../support/stores.js';
import { describeLedgerContract } from './ledger-contract.js';

describeLedgerContract(memoryTarget());
describeLedgerContract(sqliteTarget());
describeLedgerContract(await postgresTarget());
