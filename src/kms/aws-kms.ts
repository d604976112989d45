// placeholder replaced by the key-custody work
import { KeyManagement } from './key-management';
export abstract class AwsKms extends KeyManagement {}
