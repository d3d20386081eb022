// partner-interface §8: DE64 / DE128 hold the first 8 bytes of AES-CMAC (RFC 4493) over the body before them.
import test from 'ava';
import { decode, encode } from '../../switch/iso8583/codec.ts';
import { frame } from '../../switch/iso8583/framing.ts';
import { aesCmac, macFor, signMessage, verifyMac } from '../../switch/iso8583/mac.ts';
import { GOLDEN_MAC_KEY, bodyOf, golden, messageOf } from './vectors.ts';

const h = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
const KEY = GOLDEN_MAC_KEY;
const M = h('6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710');

test('AES-CMAC matches the RFC 4493 test vectors (empty, 16, 40 and 64 bytes)', (t) => {
  t.is(aesCmac(KEY, Buffer.alloc(0)).toString('hex'), 'bb1d6929e95937287fa37d129b756746');
  t.is(aesCmac(KEY, M.subarray(0, 16)).toString('hex'), '070a16b46b4d4144f79bdd9dd04a287c');
  t.is(aesCmac(KEY, M.subarray(0, 40)).toString('hex'), 'dfa66747de9ae63030ca32611497c827');
  t.is(aesCmac(KEY, M.subarray(0, 64)).toString('hex'), '51f0bebf7e3b9d92fc49741779363cfe');
});

test('macFor is the first 8 bytes of the CMAC', (t) => {
  t.is(macFor(KEY, M.subarray(0, 16)).toString('hex'), '070a16b46b4d4144');
});

test('a key that is not 16 bytes is refused', (t) => {
  t.throws(() => aesCmac(Buffer.alloc(15), M), { instanceOf: TypeError });
  t.throws(() => verifyMac(bodyOf(golden('withdrawal-mac')), Buffer.alloc(32)), { instanceOf: TypeError });
});

for (const name of ['withdrawal-mac', 'reversal-mac']) {
  test(`golden ${name}: its MAC verifies with the bank's key`, (t) => {
    t.is(verifyMac(bodyOf(golden(name)), KEY), 'ok');
  });

  test(`golden ${name}: signMessage reproduces its frame exactly`, (t) => {
    const msg = messageOf(golden(name));
    delete msg.fields[64];
    delete msg.fields[128];
    t.is(frame(signMessage(msg, KEY)).toString('hex'), golden(name).frame_hex);
  });

  test(`golden ${name}: a flipped byte anywhere before or in the MAC makes it wrong`, (t) => {
    const body = bodyOf(golden(name));
    const macBitByte = body[4]! & 0x80 ? 19 : 11;
    for (let i = 0; i < body.length; i++) {
      if (i === macBitByte) continue; // flipping bit 0x01 there clears the MAC bit: 'missing', tested below
      const bad = Buffer.from(body);
      bad[i]! ^= 0x01;
      if (verifyMac(bad, KEY) !== 'wrong') t.fail(`flip at ${i}`);
    }
    t.pass();
  });

  test(`golden ${name}: the wrong key makes it wrong`, (t) => {
    t.is(verifyMac(bodyOf(golden(name)), Buffer.alloc(16, 7)), 'wrong');
  });
}

test('a message without a MAC field is missing its MAC', (t) => {
  t.is(verifyMac(bodyOf(golden('withdrawal')), KEY), 'missing');
  t.is(verifyMac(bodyOf(golden('confirmation')), KEY), 'missing');
});

test('clearing the MAC bit of the bitmap makes the MAC missing', (t) => {
  const b = Buffer.from(bodyOf(golden('withdrawal-mac')));
  b[11]! &= 0xfe;
  t.is(verifyMac(b, KEY), 'missing');
});

test('DE64 with a secondary bitmap is a MAC in the wrong place: missing', (t) => {
  const msg = messageOf(golden('reversal-mac'));
  delete msg.fields[128];
  const unsigned = encode(msg);
  msg.fields[64] = macFor(KEY, unsigned).toString('hex'); // whatever its value, DE64 is not where the MAC goes here
  t.is(verifyMac(encode(msg), KEY), 'missing');
});

test('DE128 without a secondary bitmap cannot exist; a body too short for its bitmap has no MAC', (t) => {
  t.is(verifyMac(Buffer.from('0200'), KEY), 'missing');
  t.is(verifyMac(Buffer.from('02008000', 'latin1'), KEY), 'missing');
  // Secondary announced but cut: no bitmap to read the MAC bit from.
  t.is(verifyMac(Buffer.concat([Buffer.from('0420'), Buffer.from('8000000000000000', 'hex'), Buffer.from('0000')]), KEY), 'missing');
});

test('a MAC bit set on a body too short to hold 8 MAC bytes is wrong', (t) => {
  const b = Buffer.concat([Buffer.from('0200'), Buffer.from('0000000000000001', 'hex'), Buffer.from('1234')]);
  t.is(verifyMac(b, KEY), 'wrong');
});

test('signMessage uses DE128 when a field above 64 is present, else DE64, and replaces an existing MAC', (t) => {
  const withdrawal = messageOf(golden('withdrawal'));
  const signed = decode(signMessage(withdrawal, KEY));
  t.is(signed.fields[64], golden('withdrawal-mac').fields[64]);
  t.is(signed.fields[128], undefined);

  const reversal = messageOf(golden('reversal-mac'));
  reversal.fields[64] = 'ffffffffffffffff';
  reversal.fields[128] = '0000000000000000';
  const signedReversal = decode(signMessage(reversal, KEY));
  t.is(signedReversal.fields[64], undefined);
  t.is(signedReversal.fields[128], golden('reversal-mac').fields[128]);
  t.deepEqual(reversal.fields[64], 'ffffffffffffffff', 'the caller message is not modified');
});

test('what signMessage signs, verifyMac accepts', (t) => {
  for (const name of ['signon', 'withdrawal-approved', 'inquiry-answer', 'partial-reversal', 'reversal-ack']) {
    t.is(verifyMac(signMessage(messageOf(golden(name)), KEY), KEY), 'ok', name);
  }
});
