export { ClusterNode, startClusterNode, clusterDefaults } from './node.js';
export type { ClusterOptions, ClusterStatus } from './node.js';
export type { MemberRow, ShardRow } from './cluster-tables.js';
export { NotShardOwnerError, ShardFencedError, ClusterUnavailableError, ClusterUnsupportedError, InvalidClusterOptionError } from './errors.js';
export { shardOf } from './shard-hash.js';
export type { WriteFence } from '../persistence/sql/write-fence.js';
