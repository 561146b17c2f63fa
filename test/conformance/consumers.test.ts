import { storeTargets } from '../support/stores.js';
import { describeConsumerContract } from './consumer-contract.js';

for (const target of await storeTargets()) describeConsumerContract(target);
