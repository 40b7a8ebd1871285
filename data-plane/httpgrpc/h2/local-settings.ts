// The SETTINGS this client sends (RFC 9113 6.5.2) and its receive windows (6.9).
import { DEFAULT_WINDOW, Setting } from './frames.js';

export const LOCAL = {
  /** RFC 7541 4.2: the default; Go and C-core servers index within it. */
  headerTableSize: 4096,
  /** RFC 9113 6.5.2 default: larger frames would mostly arrive split across socket reads. */
  maxFrameSize: 16_384,
  /** Bounds one decoded header block (grpc-status-details-bin carries whole HTTP error bodies). */
  maxHeaderListSize: 4 * 1024 * 1024,
  // Flow control (RFC 9113 6.9): the default 64 KiB windows stall a large response behind round trips
  // of WINDOW_UPDATEs, so ours are large from the start; what a backend accepts from us is its own.
  streamWindow: 4 * 1024 * 1024,
  connectionWindow: 32 * 1024 * 1024,
} as const;

/** Our SETTINGS frame's parameters: no server push (8.4), our stream window and header list bound. */
export const LOCAL_SETTINGS: ReadonlyArray<readonly [number, number]> = [
  [Setting.ENABLE_PUSH, 0],
  [Setting.INITIAL_WINDOW_SIZE, LOCAL.streamWindow],
  [Setting.MAX_HEADER_LIST_SIZE, LOCAL.maxHeaderListSize],
];

/** The connection window starts at 65,535 whatever SETTINGS say (6.9.2); one WINDOW_UPDATE widens it. */
export const CONNECTION_WINDOW_GROWTH = LOCAL.connectionWindow - DEFAULT_WINDOW;
