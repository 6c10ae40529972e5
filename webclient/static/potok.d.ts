// Type declarations of potok.js, the Potok browser client (served at /client/potok.d.ts).

/** A stream status (docs/protocol.md §D.3): PENDING until the server answers. */
export type StreamStatus = 'PENDING' | 'PUBLISHING' | 'PLAYING' | 'FAILED' | 'STOPPED' | 'UNPUBLISHED' | string;

/** A session status: ESTABLISHED once connected, DISCONNECTED or FAILED at its end. */
export type SessionStatus = 'PENDING' | 'ESTABLISHED' | 'RECONNECTING' | 'DISCONNECTED' | 'FAILED';

export interface LoadOptions {
  /** Where potok.wasm is; default: beside potok.js. */
  wasmUrl?: string;
  /** Where Go's wasm_exec.js is; default: beside potok.js. */
  wasmExecUrl?: string;
}

export interface ConnectOptions extends LoadOptions {
  /** The application (WCS appKey); default "defaultApp". */
  appKey?: string;
  /** Sent to the application's connect hook as `custom`. */
  custom?: unknown;
  /** Ask the server to keep the session through a lost socket (docs/protocol.md §H.8). */
  keepAlive?: boolean;
  /** Re-attach to a kept session by its token (Session.authToken). */
  authToken?: string;
  /**
   * Survive a lost socket: the session asks for keepAlive and, when its socket is lost, dials
   * again with its token (status RECONNECTING, then ESTABLISHED); its streams go on. A server
   * that no longer knows the session gives a new one: the old streams end FAILED "Session lost".
   */
  reconnect?: boolean;
  /** Seconds to keep trying (default 60, the server's keepAlive grace). */
  reconnectFor?: number;
}

export interface PublishOptions {
  name: string;
  /** Camera: true (default), false for none, or MediaTrackConstraints. */
  video?: boolean | MediaTrackConstraints;
  /** Microphone: true (default), false for none, or MediaTrackConstraints. */
  audio?: boolean | MediaTrackConstraints;
  /** Share a screen, window or tab (getDisplayMedia) instead of the camera; no audio. */
  screen?: boolean | MediaTrackConstraints;
  /** Publish what is drawn on this canvas (captureStream) instead of the camera. */
  canvas?: HTMLCanvasElement;
  /** Frames per second of a canvas capture; default: whenever it is drawn. */
  fps?: number;
  /** Publish a MediaStream the page already has (left running when the stream ends). */
  stream?: MediaStream;
  /** A <video> for the local preview (muted). */
  display?: HTMLVideoElement;
  record?: boolean;
  /** kbps, 0 = unlimited. */
  minBitrate?: number;
  maxBitrate?: number;
  /** "TCP": ICE over TCP only (the server's ICE-TCP port); default "UDP". */
  transport?: 'UDP' | 'TCP';
  custom?: unknown;
}

export interface PlayOptions {
  name: string;
  /** The <video> the stream plays into. */
  display?: HTMLVideoElement;
  /** Requested picture size; 0 = as published. */
  width?: number;
  height?: number;
  /** Leave audio out of the offer. */
  noAudio?: boolean;
  /** "TCP": ICE over TCP only; default "UDP". */
  transport?: 'UDP' | 'TCP';
  custom?: unknown;
}

/** A player's figures, from getStats() inbound-rtp (the native client's ReceiveStats). */
export interface ReceiveStats {
  VideoCodec: string;
  VideoPackets: number;
  VideoBytes: number;
  AudioPackets: number;
  AudioBytes: number;
  Keyframes: number;
  Width: number;
  Height: number;
  FramesDecoded: number;
  /** ISO time of the first received packet. */
  FirstPacket: string;
}

export interface TrackSendStats {
  Frames: number;
  Keyframes: number;
  Packets: number;
  Bytes: number;
  KeyframeRequests: number;
}

/** A publisher's figures, from getStats() outbound-rtp (the native client's SendStats). */
export interface SendStats {
  Video: TrackSendStats;
  Audio: TrackSendStats;
}

/** The server's stream object (notifyStreamStatusEvent). */
export interface StreamObject {
  mediaSessionId: string;
  name: string;
  status: StreamStatus;
  info?: string;
  [field: string]: unknown;
}

/** notifyVideoFormat: the picture the player gets. */
export interface VideoFormat {
  mediaSessionId: string;
  width: number;
  height: number;
  [field: string]: unknown;
}

/** notifyStreamEvent: e.g. type "audioMuted" when the publisher muted its audio. */
export interface StreamEvent {
  mediaSessionId: string;
  type: string;
  payload?: unknown;
  [field: string]: unknown;
}

/** inboundVideoRate (to a publisher: what the server receives) / outboundVideoRate (to a player: what it sends), once a second. */
export interface VideoRate {
  mediaSessionId: string;
  /** bit/s */
  videoRate: number;
  fps: number;
  nack: number;
  pli: number;
  lostPackets: number;
  width: number;
  height: number;
}

/** An OnDataEvent: what the REST API's /data/send pushed. */
export interface DataEvent {
  nodeId: string;
  sessionId: string;
  operationId: string;
  payload: unknown;
}

export interface Stream {
  readonly id: string;
  readonly name: string;
  readonly published: boolean;
  /** Publisher: the tracks sent; player: the tracks received. */
  readonly mediaStream: MediaStream;
  status(): StreamStatus;
  info(): string;
  /** Resolves when one of the statuses is reached; rejects when the stream ends otherwise. */
  waitFor(...statuses: StreamStatus[]): Promise<StreamStatus>;
  stop(): Promise<void>;
  muteAudio(): Promise<void>;
  unmuteAudio(): Promise<void>;
  muteVideo(): Promise<void>;
  unmuteVideo(): Promise<void>;
  getStats(): Promise<ReceiveStats | SendStats>;
  on(event: 'status', handler: (status: StreamStatus, info: string, stream: StreamObject) => void): this;
  on(event: 'videoFormat', handler: (format: VideoFormat) => void): this;
  on(event: 'streamEvent', handler: (event: StreamEvent) => void): this;
  on(event: 'rate', handler: (rate: VideoRate, kind: 'inboundVideoRate' | 'outboundVideoRate') => void): this;
  /** A status by name: PUBLISHING, PLAYING, FAILED, STOPPED, UNPUBLISHED. */
  on(event: StreamStatus, handler: (info: string, stream: StreamObject) => void): this;
  off(event: string, handler: (...args: any[]) => void): this;
}

export interface Session {
  readonly url: string;
  /** getUserData.authToken: re-attach a keepAlive session with it. */
  readonly authToken: string;
  status(): SessionStatus;
  publish(options: PublishOptions): Promise<Stream>;
  play(options: PlayOptions): Promise<Stream>;
  /** sendData to the application's backend; resolves with its DataStatusEvent. */
  sendData(payload: unknown): Promise<{ operationId: string; status: string; info?: string }>;
  /** Whether a stream of this name can be played now (availableStream); info says why not. */
  availableStream(name: string): Promise<{ available: boolean; info: string }>;
  disconnect(): Promise<void>;
  on(event: 'status', handler: (status: SessionStatus, info: string) => void): this;
  /** Data the application's backend sent to this session (REST /data/send → OnDataEvent). */
  on(event: 'data', handler: (payload: unknown, event: DataEvent) => void): this;
  on(event: SessionStatus, handler: (info: string) => void): this;
  off(event: string, handler: (...args: any[]) => void): this;
}

export interface PotokStatic {
  /** Loads and starts the wasm (connect does it on first use). */
  load(options?: LoadOptions): Promise<unknown>;
  /** Milliseconds the wasm took to download and start, 0 before. */
  readonly loadMs: number;
  /** Resolves with an ESTABLISHED session. */
  connect(url: string, options?: ConnectOptions): Promise<Session>;
}

declare global {
  const Potok: PotokStatic;
  interface Window { Potok: PotokStatic; }
}
