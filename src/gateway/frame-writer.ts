/**
 * The server's outgoing data frames for one connection, gathered during a turn of the event loop
 * and written to the socket as one buffer. `ws` would frame each message on its own (a header
 * buffer and a payload buffer, two chunks for the socket's writable stream, per message); replies
 * are small and come in bursts (a committed batch answers many commands at once), so building
 * the frames of a burst into one allocation and one write is most of what a reply costs.
 *
 * Frames are RFC 6455 server frames: FIN set, not masked, opcode text (JSON) or binary (msgpack).
 * Control frames (ping, pong, close) stay with `ws`, which writes them to the same socket; the
 * connection flushes what is gathered before it closes, so a close frame follows the replies.
 * @internal
 */
export class FrameWriter {
  /** Payloads gathered this turn: strings are sent as text frames, buffers as binary. */
  private readonly payloads: (string | Buffer)[] = [];
  /** Byte length of each payload (strings are measured once, when added). */
  private readonly lengths: number[] = [];
  private bytes = 0;

  /** Bytes gathered, frame headers included. */
  get pendingBytes(): number {
    return this.bytes;
  }

  get isEmpty(): boolean {
    return this.payloads.length === 0;
  }

  add(data: string | Buffer): void {
    const length = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
    this.payloads.push(data);
    this.lengths.push(length);
    this.bytes += headerLength(length) + length;
  }

  /** The gathered frames as one buffer (and forgets them). */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.bytes);
    let at = 0;
    const payloads = this.payloads;
    for (let i = 0; i < payloads.length; i++) {
      const data = payloads[i] as string | Buffer;
      const length = this.lengths[i] as number;
      at = writeHeader(out, at, typeof data === 'string' ? OPCODE_TEXT : OPCODE_BINARY, length);
      if (typeof data === 'string') out.write(data, at, length, 'utf8');
      else data.copy(out, at);
      at += length;
    }
    this.clear();
    return out;
  }

  clear(): void {
    this.payloads.length = 0;
    this.lengths.length = 0;
    this.bytes = 0;
  }
}

const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const FIN = 0x80;

function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/** Writes a FIN, unmasked frame header at `at`; returns where the payload goes. */
function writeHeader(out: Buffer, at: number, opcode: number, length: number): number {
  out[at] = FIN | opcode;
  if (length < 126) {
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 65536) {
    out[at + 1] = 126;
    out.writeUInt16BE(length, at + 2);
    return at + 4;
  }
  out[at + 1] = 127;
  // 64-bit length, big-endian; JavaScript lengths fit in 53 bits.
  out.writeUInt32BE(Math.floor(length / 0x1_0000_0000), at + 2);
  out.writeUInt32BE(length >>> 0, at + 6);
  return at + 10;
}
