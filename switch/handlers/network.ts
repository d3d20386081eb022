// 0800 network management: sign-on (001), sign-off (002), echo (301).
import type { IsoMessage } from '../iso8583/message.ts';
import type { Bank } from '../banks.ts';
import { respond } from './respond.ts';

export interface NetworkLink {
  /** The bank this connection has signed on as, or null. */
  readonly bank: Bank | null;
  signOn(bank: Bank): void;
  signOff(): void;
}

/**
 * Sign-on needs DE32 to be an active registered bank, and a connection speaks for one bank only: signing on again as
 * the same bank is fine (banks re-sign-on after a hiccup), as another bank is refused with 58.
 */
export async function handleNetwork(
  req: IsoMessage,
  link: NetworkLink,
  findBank: (code: string) => Promise<Bank | null>,
): Promise<IsoMessage> {
  switch (req.fields[70]) {
    case '001': {
      const bank = await findBank(req.fields[32]!);
      if (!bank || (link.bank && link.bank.code !== bank.code)) return respond(req, 'NOT_PARTICIPATING');
      link.signOn(bank);
      return respond(req, 'APPROVED');
    }
    case '002':
      link.signOff();
      return respond(req, 'APPROVED');
    default:
      return respond(req, 'APPROVED');
  }
}
