import { memoryTarget } from '../support/stores.js';
import { describeEventStoreContract } from './event-store-contract.js';

describeEventStoreContract(memoryTarget());
