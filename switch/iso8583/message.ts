// The value every layer passes around: an MTI and its data elements as strings.
// Fields of format `b` (DE64, DE128) are carried as lowercase hex of their raw bytes, as in the golden vectors.

export type FieldValues = Partial<Record<number, string>>;

export interface IsoMessage {
  mti: string;
  fields: FieldValues;
}
