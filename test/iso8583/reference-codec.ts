// The `iso_8583` npm package (v2.6.7) configured for our profile, as an independent reference:
// binary bitmap, ASCII fields. Its default formats match our table except the MACs, whose `b` MaxLen it
// counts in hex characters (16 for 8 bytes). It is CommonJS without types, hence createRequire.
import { createRequire } from 'node:module';

interface IsoPackInstance {
  getIsoJSON(frame: Buffer, config: Record<string, unknown>): Record<string, string> & { error?: string };
  getBufferMessage(): Buffer | { error: string };
}
type IsoPackClass = new (message?: Record<string, string>, customFormats?: Record<string, unknown>) => IsoPackInstance;

const require = createRequire(import.meta.url);
const IsoPack = require('iso_8583') as IsoPackClass;

export const REFERENCE_FORMATS = {
  64: { ContentType: 'b', Label: 'MAC (primary)', LenType: 'fixed', MaxLen: 16 },
  128: { ContentType: 'b', Label: 'MAC (secondary)', LenType: 'fixed', MaxLen: 16 },
};

/** The package's own result, untouched (for the benchmark): field '0' is the MTI, or `error` is set. */
export function referenceDecodeRaw(frameBytes: Buffer): Record<string, string> & { error?: string } {
  return new IsoPack(undefined, REFERENCE_FORMATS).getIsoJSON(frameBytes, {});
}

/** Decodes a whole frame (with its 2-byte length) into { mti, fields }; throws on the package's error object. */
export function referenceDecode(frameBytes: Buffer): { mti: string; fields: Record<string, string> } {
  const json = referenceDecodeRaw(frameBytes);
  if (json.error) throw new Error(`iso_8583: ${json.error}`);
  const { 0: mti, ...fields } = json;
  return { mti: mti!, fields };
}

/** Encodes into a whole frame (2-byte length included). It always writes both bitmaps. */
export function referenceEncode(mti: string, fields: Record<string, string>): Buffer {
  const out = new IsoPack({ 0: mti, ...fields }, REFERENCE_FORMATS).getBufferMessage();
  if (!Buffer.isBuffer(out)) throw new Error(`iso_8583: ${out.error}`);
  return out;
}
