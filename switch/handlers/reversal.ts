// 0420 / 0421: reversal, full or partial (DE95 = what was actually dispensed), before or after the confirmation
// (partner-interface.md §4–6). The 0430 says 00 once recorded, even for an original the switch never saw:
// that one leaves a tombstone so the original, arriving late, is declined (12) and reserves nothing.
import type { Handler, LedgerCore } from '../ledger/core.ts';
import { reverse } from '../ledger/journal.ts';
import { dispensedMinor } from '../ledger/messages.ts';
import { handleAdvice } from './advice.ts';

export function reversalHandler(core: LedgerCore): Handler {
  return (req, ctx) =>
    handleAdvice(
      core, req, ctx,
      (a, deadline, slot) => slot(() => reverse(core.db, { ...a, dispensedMinor: dispensedMinor(req.fields) }, core.clock.now(), deadline)),
      async (r) => {
        const epoch = core.recovery.epochOf(r.campaign);
        if (!epoch) return;
        if (r.dispensedMinor === 0) await core.reservations.release(r.campaign, r.beneficiaryId, epoch, r.amountMinor);
        else await core.reservations.releasePartial(r.campaign, r.beneficiaryId, epoch, r.amountMinor, r.dispensedMinor);
      },
    );
}
