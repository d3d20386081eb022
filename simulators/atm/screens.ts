// What the citizen sees on the ATM, in Traditional Chinese and English: one screen per reason token of
// partner-interface.md §7 (switch/handlers/outcomes.ts), per bank-side answer (55, 57, 14, 68, 91 from the bank),
// a fallback per response code, and the screens after an approval (cash taken, partial, none, cancelled).
// Screens never repeat a card, NHI or ID number.
import { OUTCOMES } from '../../switch/handlers/outcomes.ts';
import { BANK_OUTCOMES } from '../bank/atm-protocol.ts';

export interface Screen {
  zh: string;
  en: string;
}

/** By reason token (DE44); APPROVED is 00. Keys must cover every OUTCOMES entry (a test holds us to it). */
export const SWITCH_SCREENS: Record<keyof typeof OUTCOMES, Screen> = {
  APPROVED: { zh: '核准，請取現金', en: 'Approved. Please take your cash.' },
  IN_PROGRESS: { zh: '此受益人另有一筆提領正在處理中，請稍後再試', en: 'Another withdrawal for this beneficiary is being processed. Please try again later.' },
  CAMPAIGN_CLOSED: { zh: '目前沒有開放中的發放活動', en: 'No distribution is open at this time.' },
  REVERSED_EARLIER: { zh: '此筆交易已被沖正，未提領任何款項', en: 'This transaction was already reversed. No cash was paid.' },
  BAD_PROCESSING_CODE: { zh: '此交易類型不受理', en: 'This type of transaction is not supported.' },
  AMOUNT_MISMATCH: { zh: '提領金額須等於剩餘可領金額，請先查詢', en: 'The amount must equal the remaining entitlement. Please check the balance first.' },
  CURRENCY: { zh: '僅受理新臺幣', en: 'Only New Taiwan dollars can be paid.' },
  UNKNOWN_CARD: { zh: '查無此健保卡號，請確認輸入', en: 'This NHI card number is not registered. Please check it.' },
  SUPERSEDED_CARD: { zh: '此健保卡已換發新卡，請輸入新卡號', en: 'This NHI card has been replaced. Please enter the new card number.' },
  FORMAT: { zh: '交易資料格式錯誤，請重新操作', en: 'The transaction data was incomplete. Please start again.' },
  ID_MISMATCH: { zh: '身分證號與受益人或其監護人不符', en: 'The ID number is not the beneficiary’s or a registered guardian’s.' },
  PROXY_NOT_ALLOWED: { zh: '受益人年滿十三歲，須由本人領取', en: 'Beneficiaries aged 13 or over must collect in person.' },
  SELF_NOT_ALLOWED: { zh: '受益人未滿七歲，須由監護人代領', en: 'For beneficiaries under 7, a registered guardian must collect.' },
  NOT_PARTICIPATING: { zh: '本行未參與此發放，請洽參與銀行', en: 'This bank does not take part in the distribution. Please use a participating bank.' },
  MAC: { zh: '交易安全驗證失敗，請稍後再試', en: 'The transaction failed a security check. Please try again later.' },
  ALREADY_COLLECTED: { zh: '此受益人的款項已領取', en: 'This entitlement has already been collected.' },
  UNAVAILABLE: { zh: '系統暫時無法服務，請稍後再試', en: 'The service is temporarily unavailable. Please try again later.' },
  NOT_SIGNED_ON: { zh: '銀行連線尚未就緒，請稍後再試', en: 'The bank is not connected yet. Please try again later.' },
  DUPLICATE: { zh: '重複的交易，請重新操作', en: 'Duplicate transaction. Please start again.' },
  SYSTEM: { zh: '系統錯誤，請稍後再試', en: 'System error. Please try again later.' },
};

/** Answers the bank gives itself, never the switch: keyed like BANK_OUTCOMES. */
export const BANK_SCREENS: Record<keyof typeof BANK_OUTCOMES, Screen> = {
  WRONG_PIN: { zh: '密碼錯誤', en: 'Incorrect PIN.' },
  NOT_CARDHOLDER: { zh: '身分證號與持卡人不符，請使用本人的金融卡', en: 'The ID number does not match the cardholder. Please use your own bank card.' },
  CARD_NOT_OURS: { zh: '此金融卡無法在本機使用', en: 'This card cannot be used at this machine.' },
  HOST_TIMEOUT: { zh: '交易逾時，未提領任何款項，請稍後再試', en: 'The transaction timed out. No cash was paid. Please try again later.' },
  LINK_DOWN: { zh: '銀行連線中斷，請稍後再試', en: 'The bank cannot be reached. Please try again later.' },
  BANK_BUSY: { zh: '系統忙碌中，請稍後再試', en: 'The system is busy. Please try again later.' },
  BAD_REQUEST: { zh: '交易資料有誤，請重新操作', en: 'The transaction could not be read. Please start again.' },
};

/** A fallback per response code, for an answer whose token is missing or unknown. */
export const CODE_SCREENS: Record<string, Screen> = {
  '00': SWITCH_SCREENS.APPROVED,
  '09': SWITCH_SCREENS.IN_PROGRESS,
  '12': { zh: '交易無法受理', en: 'The transaction cannot be accepted.' },
  '13': { zh: '金額不符', en: 'The amount is not accepted.' },
  '14': { zh: '卡號無效', en: 'The card number is not valid.' },
  '30': SWITCH_SCREENS.FORMAT,
  '55': BANK_SCREENS.WRONG_PIN,
  '57': { zh: '領取人資格不符', en: 'This person may not collect this entitlement.' },
  '58': SWITCH_SCREENS.NOT_PARTICIPATING,
  '63': SWITCH_SCREENS.MAC,
  '65': SWITCH_SCREENS.ALREADY_COLLECTED,
  '68': BANK_SCREENS.HOST_TIMEOUT,
  '91': SWITCH_SCREENS.UNAVAILABLE,
  '94': SWITCH_SCREENS.DUPLICATE,
  '96': SWITCH_SCREENS.SYSTEM,
};

const UNKNOWN: Screen = { zh: '交易無法完成，請洽發卡銀行', en: 'The transaction could not be completed. Please contact your bank.' };

/** After an approval, what the machine did. */
export const DISPENSE_SCREENS = {
  full: (twd: number): Screen => ({ zh: `請取現金 新臺幣 ${twd.toLocaleString('en-US')} 元`, en: `Please take your cash: NT$${twd.toLocaleString('en-US')}.` }),
  partial: (twd: number, ofTwd: number): Screen => ({
    zh: `機器故障，僅付出新臺幣 ${twd.toLocaleString('en-US')} 元（應付 ${ofTwd.toLocaleString('en-US')} 元），餘額已退回，可再次提領`,
    en: `Machine fault: only NT$${twd.toLocaleString('en-US')} of NT$${ofTwd.toLocaleString('en-US')} was paid. The rest has been returned to you and can be collected again.`,
  }),
  none: (): Screen => ({ zh: '機器故障，未付出現金，交易已取消', en: 'Machine fault: no cash was paid. The transaction has been cancelled.' }),
  cancel: (): Screen => ({ zh: '交易已取消，未提領任何款項', en: 'Transaction cancelled. No cash was paid.' }),
  timeout: (): Screen => BANK_SCREENS.HOST_TIMEOUT,
};

/** The inquiry answer. */
export function balanceScreen(twd: number): Screen {
  return { zh: `可領金額：新臺幣 ${twd.toLocaleString('en-US')} 元`, en: `Available to collect: NT$${twd.toLocaleString('en-US')}.` };
}

/** The screen for an answer: its reason token if we know it, else its code, else a generic one. */
export function screenFor(rc: string, reason: string | null): Screen {
  if (reason !== null) {
    if (reason in SWITCH_SCREENS) return SWITCH_SCREENS[reason as keyof typeof SWITCH_SCREENS];
    if (reason in BANK_SCREENS) return BANK_SCREENS[reason as keyof typeof BANK_SCREENS];
  }
  if (rc === '00') return SWITCH_SCREENS.APPROVED;
  return CODE_SCREENS[rc] ?? UNKNOWN;
}

export function renderScreen(s: Screen, lang: 'zh' | 'en' | 'both' = 'both'): string {
  if (lang === 'zh') return s.zh;
  if (lang === 'en') return s.en;
  return `${s.zh}\n${s.en}`;
}
