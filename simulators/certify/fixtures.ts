// The people certification scenarios need, in clear: the runner types their NHI and ID numbers as an ATM would.
// A scenario names roles ("adult1": "adult"); the runner takes a fresh person of that kind for each case from a
// FixtureProvider, so no two cases share a person (a withdrawal consumes one). Fixtures come from
//   - a FixturePool built in code (the demo and the tests import a roster, then pass the same people in), or
//   - a file: JSON (see README.md) or a roster CSV, roles derived from birth date and guardians (loadFixturesFile).
// buildCertificationRoster() makes a matching roster + update file + fixtures for a fresh campaign.
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { ageOn, parseRoster, taipeiDate, type Person } from '../atm/people.ts';
import { isValidIdNumber, randomIdNumber, randomNhiCardNumber, seededRandom, syntheticIdentities } from '../../switch/roster/identity.ts';
import { DEFAULT_AMOUNT_TWD, MAX_AMOUNT_TWD } from '../../switch/campaigns.ts';

/** What a scenario may ask for. */
export const PERSON_KINDS = ['adult', 'child_under_7', 'minor_7_to_12', 'teen_with_guardian', 'superseded'] as const;
export type PersonKind = (typeof PERSON_KINDS)[number];

export const KIND_MEANING: Record<PersonKind, string> = {
  adult: '13 or over, collects for themselves',
  child_under_7: 'under 7, with a registered guardian (proxy only)',
  minor_7_to_12: '7 to 12, with a registered guardian (self or proxy)',
  teen_with_guardian: '13 or over with a guardian still registered (proxy refused)',
  superseded: 'an adult whose NHI card was replaced: old_nhi answers 14 SUPERSEDED_CARD',
};

export interface FixturePerson {
  kind: PersonKind;
  /** Current NHI card number, 12 digits. */
  nhi: string;
  /** The beneficiary's own ID number. */
  id: string;
  /** A registered guardian's ID number (children, teen_with_guardian). */
  guardianId?: string;
  /** The replaced card (superseded). */
  oldNhi?: string;
  /** The person's whole entitlement, whole TWD. */
  amountTwd: number;
}

export interface FixtureProvider {
  /** How many fresh people of this kind are left. */
  available(kind: PersonKind): number;
  /** A fresh person of this kind, never handed out before; throws when none is left. */
  take(kind: PersonKind): FixturePerson;
  /** The open campaign the people are in (DE48 CP in scenarios that name it); optional. */
  readonly campaign?: string;
  /** A campaign code that is closed or unknown on the switch (12 CAMPAIGN_CLOSED); the runner has a default. */
  readonly closedCampaign?: string;
  /** Entitlement of people the provider did not make (random, unknown cards), whole TWD. */
  readonly amountTwd?: number;
}

export class FixtureError extends Error {}

/** Hands out each person once, in the order given. */
export class FixturePool implements FixtureProvider {
  private readonly left = new Map<PersonKind, FixturePerson[]>();

  constructor(
    people: FixturePerson[],
    readonly campaign?: string,
    readonly closedCampaign?: string,
    readonly amountTwd: number = DEFAULT_AMOUNT_TWD,
  ) {
    for (const k of PERSON_KINDS) this.left.set(k, []);
    for (const p of people) {
      checkPerson(p, 'person');
      this.left.get(p.kind)!.push(p);
    }
  }

  available(kind: PersonKind): number {
    return this.left.get(kind)?.length ?? 0;
  }

  take(kind: PersonKind): FixturePerson {
    const p = this.left.get(kind)?.shift();
    if (!p) throw new FixtureError(`no ${kind} left in the fixtures (${KIND_MEANING[kind]})`);
    return p;
  }

  /** Every identifier in the pool (for the reports' last masking check). */
  static identifiers(people: Iterable<FixturePerson>): string[] {
    const out: string[] = [];
    for (const p of people) out.push(p.nhi, p.id, ...(p.guardianId ? [p.guardianId] : []), ...(p.oldNhi ? [p.oldNhi] : []));
    return out;
  }
}

function checkPerson(p: FixturePerson, where: string): void {
  if (!PERSON_KINDS.includes(p.kind)) throw new FixtureError(`${where}: role must be one of ${PERSON_KINDS.join(', ')}`);
  if (!/^\d{12}$/.test(p.nhi)) throw new FixtureError(`${where}: nhi must be 12 digits`);
  if (!isValidIdNumber(p.id)) throw new FixtureError(`${where}: id is not a valid ID number`);
  if (p.guardianId !== undefined && !isValidIdNumber(p.guardianId)) throw new FixtureError(`${where}: guardian_id is not a valid ID number`);
  if (p.oldNhi !== undefined && !/^\d{12}$/.test(p.oldNhi)) throw new FixtureError(`${where}: old_nhi must be 12 digits`);
  const needsGuardian = p.kind === 'child_under_7' || p.kind === 'minor_7_to_12' || p.kind === 'teen_with_guardian';
  if (needsGuardian && !p.guardianId) throw new FixtureError(`${where}: a ${p.kind} needs guardian_id`);
  if (p.kind === 'superseded' && !p.oldNhi) throw new FixtureError(`${where}: a superseded person needs old_nhi`);
  if (!Number.isInteger(p.amountTwd) || p.amountTwd < 1 || p.amountTwd > MAX_AMOUNT_TWD) {
    throw new FixtureError(`${where}: amount_twd must be a whole number of TWD from 1 to ${MAX_AMOUNT_TWD}`);
  }
}

// ——— files ———

/** The JSON fixtures file (README.md, "Fixtures"). */
export interface FixturesFile {
  campaign?: string;
  closed_campaign?: string;
  /** Default entitlement, whole TWD (6000). */
  amount_twd?: number;
  people: Array<{ role: PersonKind; nhi: string; id: string; guardian_id?: string; old_nhi?: string; amount_twd?: number }>;
}

/** At most this many people in a fixtures file: certification needs dozens. */
export const MAX_FIXTURE_PEOPLE = 100_000;

export function parseFixturesJson(text: string, name = 'fixtures'): FixturePool {
  let doc: FixturesFile;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new FixtureError(`${name}: not JSON (${(e as Error).message})`);
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray(doc.people)) throw new FixtureError(`${name}: must be an object with a "people" array`);
  if (doc.people.length > MAX_FIXTURE_PEOPLE) throw new FixtureError(`${name}: more than ${MAX_FIXTURE_PEOPLE} people`);
  for (const k of ['campaign', 'closed_campaign'] as const) {
    if (doc[k] !== undefined && typeof doc[k] !== 'string') throw new FixtureError(`${name}: "${k}" must be a string`);
  }
  const amount = doc.amount_twd ?? DEFAULT_AMOUNT_TWD;
  const people = doc.people.map((r, i): FixturePerson => {
    const where = `${name}: people[${i}]`;
    if (!r || typeof r !== 'object') throw new FixtureError(`${where}: must be an object`);
    const p: FixturePerson = { kind: r.role, nhi: String(r.nhi ?? ''), id: String(r.id ?? ''), amountTwd: r.amount_twd ?? amount };
    if (r.guardian_id !== undefined) p.guardianId = String(r.guardian_id);
    if (r.old_nhi !== undefined) p.oldNhi = String(r.old_nhi);
    checkPerson(p, where);
    return p;
  });
  return new FixturePool(people, doc.campaign, doc.closed_campaign, amount);
}

/**
 * A roster CSV (operations.md columns) as fixtures: the role comes from the birth date (in Taipei today) and the
 * guardians. A plain roster cannot say which cards were replaced: give the later import as `updateCsv`, and each
 * person whose card it changes becomes `superseded` (old card from the roster, new one from the update).
 */
export function fixturesFromRoster(rosterCsv: string, opts: { updateCsv?: string; name?: string; campaign?: string; now?: Date } = {}): FixturePool {
  const { people } = parseRoster(rosterCsv, opts.name ?? 'roster');
  const updated = new Map<string, Person>();
  if (opts.updateCsv !== undefined) for (const p of parseRoster(opts.updateCsv, 'update').people) updated.set(p.id, p);
  const today = taipeiDate(opts.now ?? new Date());
  const out: FixturePerson[] = [];
  for (const p0 of people) {
    const newer = updated.get(p0.id);
    const p = newer ?? p0;
    const amountTwd = p.amountTwd ?? DEFAULT_AMOUNT_TWD;
    const age = ageOn(p.birthDate, today);
    const guardianId = p.guardians[0];
    let kind: PersonKind | null;
    if (newer && newer.nhi !== p0.nhi) kind = age >= 13 ? 'superseded' : null;
    else if (age < 7) kind = guardianId ? 'child_under_7' : null;
    else if (age < 13) kind = guardianId ? 'minor_7_to_12' : null;
    else kind = guardianId ? 'teen_with_guardian' : 'adult';
    if (!kind) continue;
    out.push({
      kind,
      nhi: p.nhi,
      id: p.id,
      amountTwd,
      ...(guardianId ? { guardianId } : {}),
      ...(kind === 'superseded' ? { oldNhi: p0.nhi } : {}),
    });
  }
  return new FixturePool(out, opts.campaign);
}

/** `--fixtures FILE`: JSON when it ends in .json, else a roster CSV (and `updateFile` the later import). */
export function loadFixturesFile(path: string, updatePath?: string, campaign?: string): FixturePool {
  const read = (p: string) => {
    try {
      return readFileSync(p, 'utf8');
    } catch (e) {
      throw new FixtureError(`cannot read fixtures ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  if (path.toLowerCase().endsWith('.json')) return parseFixturesJson(read(path), path);
  return fixturesFromRoster(read(path), { updateCsv: updatePath ? read(updatePath) : undefined, name: path, campaign });
}

// ——— a roster made for certification ———

export interface CertificationRoster {
  /** Import this first (operations.md roster format, with an amount column). */
  rosterCsv: string;
  /** Import this second: it gives the superseded people their new cards. */
  updateCsv: string;
  /** The same people, for the runner. */
  fixtures: FixturesFile;
  pool(): FixturePool;
}

/** People of each kind made by default: enough for the bundled scenarios with room to spare. */
export const DEFAULT_ROSTER_COUNTS: Record<PersonKind, number> = {
  adult: 40,
  child_under_7: 4,
  minor_7_to_12: 4,
  teen_with_guardian: 4,
  superseded: 4,
};

const AGE_YEARS: Record<PersonKind, number> = { adult: 35, child_under_7: 4, minor_7_to_12: 9, teen_with_guardian: 15, superseded: 40 };

/**
 * A roster with the people certification needs, reproducible from `seed` (a random one by default). Birth dates sit
 * mid-year in each age band, far from a birthday boundary. Guardians are IDs of people not on the roster.
 */
export function buildCertificationRoster(opts: {
  seed?: number;
  counts?: Partial<Record<PersonKind, number>>;
  amountTwd?: number;
  campaign?: string;
  now?: Date;
} = {}): CertificationRoster {
  const seed = opts.seed ?? randomInt(1, 2 ** 31 - 1);
  const counts = { ...DEFAULT_ROSTER_COUNTS, ...opts.counts };
  const amountTwd = opts.amountTwd ?? DEFAULT_AMOUNT_TWD;
  const ids = syntheticIdentities(seed);
  const today = new Date(taipeiDate(opts.now ?? new Date()) + 'T00:00:00Z');
  let next = 0;
  const header = 'nhi_card_no,id_no,birth_date,guardian_ids,amount\n';
  let roster = header;
  let update = header;
  const people: FixturesFile['people'] = [];
  for (const kind of PERSON_KINDS) {
    for (let i = 0; i < counts[kind]; i++) {
      const n = next++;
      const birth = new Date(today);
      birth.setUTCFullYear(birth.getUTCFullYear() - AGE_YEARS[kind]);
      birth.setUTCDate(birth.getUTCDate() - 150);
      const birthDate = birth.toISOString().slice(0, 10);
      const id = ids.idNumber(n);
      const nhi = ids.nhiCardNumber(n);
      const needsGuardian = kind === 'child_under_7' || kind === 'minor_7_to_12' || kind === 'teen_with_guardian';
      // Guardians and new cards use indexes far above the roster's: distinct from everyone on it.
      const guardianId = needsGuardian ? ids.idNumber(1_000_000 + n) : undefined;
      const newNhi = kind === 'superseded' ? ids.nhiCardNumber(2_000_000 + n) : undefined;
      roster += `${nhi},${id},${birthDate},${guardianId ?? ''},${amountTwd}\n`;
      if (newNhi) update += `${newNhi},${id},${birthDate},,${amountTwd}\n`;
      people.push({
        role: kind,
        nhi: newNhi ?? nhi,
        id,
        amount_twd: amountTwd,
        ...(guardianId ? { guardian_id: guardianId } : {}),
        ...(newNhi ? { old_nhi: nhi } : {}),
      });
    }
  }
  const fixtures: FixturesFile = { ...(opts.campaign ? { campaign: opts.campaign } : {}), amount_twd: amountTwd, people };
  return { rosterCsv: roster, updateCsv: update, fixtures, pool: () => parseFixturesJson(JSON.stringify(fixtures)) };
}

/** Values for the people a case makes up (an unknown card, a stranger's ID): fresh per case. */
export function randomIdentity(): { nhi: string; id: string } {
  const rng = seededRandom(randomInt(0, 2 ** 32 - 1));
  return { nhi: randomNhiCardNumber(rng), id: randomIdNumber(rng) };
}
