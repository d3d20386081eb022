// What the benchmarks send: withdrawals as an ATM would for the people of a synthetic roster, and the sign-on.
import type { IsoMessage } from '../../switch/iso8583/message.ts';
import { buildTlv } from '../../switch/iso8583/de48.ts';
import type { SyntheticPerson } from '../../switch/roster/synthetic.ts';
import { originalData } from '../../simulators/bank/fields.ts';

const now = new Date();
const taipei = new Date(now.getTime() + 8 * 3600_000);
const p2 = (n: number) => String(n).padStart(2, '0');
const DE13 = p2(taipei.getUTCMonth() + 1) + p2(taipei.getUTCDate());
/** One transmission time for the whole run: a request's key (DE32, DE41, DE11, DE7) differs by terminal and STAN. */
const DE7 = p2(now.getUTCMonth() + 1) + p2(now.getUTCDate()) + p2(now.getUTCHours()) + p2(now.getUTCMinutes()) + p2(now.getUTCSeconds());
const ageYears = (birth: string) => (now.getTime() - Date.parse(birth)) / (365.25 * 86_400_000);

/** A withdrawal as an ATM would send it for this person: a guardian collects for a child under 13 when one is registered. */
export function withdrawalFor(p: SyntheticPerson, terminal: string, stan: string): IsoMessage {
  const claimant = ageYears(p.birthDate) < 13 && p.guardianIds.length ? p.guardianIds[0]! : p.idNo;
  return {
    mti: '0200',
    fields: {
      3: '010000', 4: '000000600000', 7: DE7, 11: stan, 12: '120000', 13: DE13, 32: '004',
      37: (terminal + stan).slice(-12).padStart(12, '0'), 41: terminal, 48: buildTlv([['NH', p.nhiCardNo], ['ID', claimant]]), 49: '901',
    },
  };
}

/** Bank 004 signs on (each connection, before the clock starts). */
export const signOn = (): IsoMessage[] => [{ mti: '0800', fields: { 7: DE7, 11: '000001', 32: '004', 70: '001' } }];

/** Terminal IDs (ans8) of one phase: a one-letter phase label and the connection number, so keys never repeat across phases. */
export const terminalOf = (label: string, connection: number) => `${label}${String(connection).padStart(7, '0')}`;

/** STANs of a connection, 000001-999999. */
export const stanOf = (seq: number) => String((seq % 999_999) + 1).padStart(6, '0');

/**
 * The bank's 0220 once the ATM has dispensed an approved withdrawal (partner-interface §5), as the bank simulator builds
 * it; sent at once here, where a real one follows the dispense by seconds. Its key is in class 022, so it may reuse the
 * withdrawal's STAN and DE7.
 */
export function confirmationFor(request: IsoMessage, answer: IsoMessage): IsoMessage | null {
  if (answer.fields[39] !== '00') return null;
  const f = request.fields;
  return {
    mti: '0220',
    fields: { 3: f[3], 4: f[4], 7: f[7], 11: f[11], 12: f[12], 13: f[13], 32: f[32], 37: f[37], 41: f[41], 49: f[49], 90: originalData(request) },
  };
}
