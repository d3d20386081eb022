// Identifiers (NHI card numbers, ID numbers) are personal data: stored and compared only as keyed hashes.
// Each campaign has its own key, derived from IDENTITY_KEY, so hashes cannot be joined across campaigns,
// and purging a campaign's rows leaves nothing that identifies anyone.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';

export type IdentifierKind = 'nhi' | 'id';

export function campaignKey(identityKey: string, campaignCode: string): Buffer {
  return createHmac('sha256', identityKey).update(`entitlement/v1/campaign/${campaignCode}`).digest();
}

/**
 * The campaign key prepared once for many hashes (a roster import hashes millions): createHmac with a KeyObject
 * skips preparing the key on every call (measured 2.7 instead of 4.4 µs per hash). Same hashes as the raw key.
 */
export function preparedKey(key: Buffer): KeyObject {
  return createSecretKey(key);
}

/** 32 bytes. The kind is part of the input so an NHI number and an ID number never collide. */
export function hashIdentifier(key: Buffer | KeyObject, kind: IdentifierKind, value: string): Buffer {
  return createHmac('sha256', key).update(`${kind}:${value}`).digest();
}
