// Synthetic rosters for the demo, the simulators and the benchmark: valid, unique, reproducible from a seed.
// Every person is a pure function of (seed, index), so a simulator can rebuild in clear any person a demo roster
// holds (to type their NHI number and ID at a simulated ATM) without reading the roster back.
import { seededRandom, syntheticIdentities, type IdKind } from './identity.ts';

export interface SyntheticPerson {
  index: number;
  nhiCardNo: string;
  idNo: string;
  /** YYYY-MM-DD */
  birthDate: string;
  /** Other people of the same roster (adults), for children under 13. */
  guardianIds: string[];
}

export const SYNTHETIC_ROSTER_HEADER = 'nhi_card_no,id_no,birth_date,guardian_ids';

const DAY_MS = 86_400_000;
const MAX_AGE_DAYS = 95 * 365;
const MAX_GUARDIAN_TRIES = 20;

export function syntheticRoster(opts: { seed: number; count: number; today?: string }) {
  const { seed, count } = opts;
  if (!Number.isSafeInteger(count) || count < 1 || count > 100_000_000) throw new RangeError('count must be 1 to 100,000,000');
  const todayMs = Date.parse((opts.today ?? '2026-12-03') + 'T00:00:00Z');
  const ids = syntheticIdentities(seed);
  const rng = (i: number) => seededRandom((Math.imul(seed, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0);
  const kindOf = (i: number): IdKind => (i % 50 === 7 ? 'resident' : i % 50 === 23 ? 'resident-old' : 'national');
  const ageDays = (i: number) => Math.floor(rng(i)() * MAX_AGE_DAYS);

  const idAt = (i: number) => ids.idNumber(i, kindOf(i));

  function personAt(index: number): SyntheticPerson {
    if (!Number.isSafeInteger(index) || index < 0 || index >= count) throw new RangeError(`index must be 0 to ${count - 1}`);
    const r = rng(index);
    const age = Math.floor(r() * MAX_AGE_DAYS); // the same draw as ageDays(index)
    const birthDate = new Date(todayMs - age * DAY_MS).toISOString().slice(0, 10);
    const guardianIds: string[] = [];
    if (age < 13 * 365 && count > 1) {
      const wanted = r() < 0.6 ? 2 : 1;
      for (let k = 0; k < MAX_GUARDIAN_TRIES && guardianIds.length < wanted; k++) {
        const j = (index + 1 + Math.floor(r() * (count - 1))) % count;
        if (j === index || ageDays(j) < 20 * 365) continue;
        const g = idAt(j);
        if (!guardianIds.includes(g)) guardianIds.push(g);
      }
    }
    return { index, nhiCardNo: ids.nhiCardNumber(index), idNo: idAt(index), birthDate, guardianIds };
  }

  return {
    count,
    personAt,
    *people(): Generator<SyntheticPerson> {
      for (let i = 0; i < count; i++) yield personAt(i);
    },
    /** The roster as CSV text, in chunks of about `chunkRows` rows. */
    *csv(chunkRows = 10_000): Generator<string> {
      let out = SYNTHETIC_ROSTER_HEADER + '\n';
      for (let i = 0; i < count; i++) {
        const p = personAt(i);
        out += `${p.nhiCardNo},${p.idNo},${p.birthDate},${p.guardianIds.join(';')}\n`;
        if ((i + 1) % chunkRows === 0) {
          yield out;
          out = '';
        }
      }
      if (out) yield out;
    },
  };
}

export type SyntheticRoster = ReturnType<typeof syntheticRoster>;
