// The httpgrpc proxy for `dns:///host:port` backends. Import from here.
export { HttpGrpcUpstream, DEFAULT_MAX_MESSAGE_BYTES, MAX_ATTEMPTS } from './upstream.js';
export type { HttpGrpcUpstreamOptions, EndpointStatus } from './upstream.js';
export { HttpGrpcMetrics } from './metrics.js';
export type { HttpGrpcErrorReason } from './metrics.js';
export { RoundRobinPicker } from './picker.js';
export { HTTPGRPC_CLIENTS } from './client-session.js';
export type { HttpGrpcClientKind } from './client-session.js';
export { protoPath } from './proto-files.js';
export {
  encodeRequest,
  decodeRequest,
  encodeResponse,
  decodeResponse,
  encodeStatusWithResponse,
  decodeStatusResponse,
  HTTP_RESPONSE_TYPE_URL,
} from './codec.js';
export type { HttpGrpcHeader, HttpGrpcRequestMessage, HttpGrpcResponseMessage } from './codec.js';
